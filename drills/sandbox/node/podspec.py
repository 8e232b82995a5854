"""From a pod's spec to what the container runner needs: command, probes, limits, QoS.

Pure functions over the pod JSON the API server returns. Images stand for local commands
(`IMAGE_COMMANDS`): any image whose repository's last path part is ``shop`` runs
``python fixtures/shop/app.py``, whatever its registry and tag; the tag reaches the app as
``IMAGE`` (tag ``bad`` makes it crash at start-up, the bad-release fault). The environment is
resolved by `drills.sandbox.node.podenv`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills.sandbox.node.runner import BackOff, ContainerSpec, Probe, parse_memory

__all__ = [
    "IMAGE_COMMANDS",
    "MARKER_ENV",
    "SANDBOX_BACKOFF",
    "ProbeScale",
    "command_for_image",
    "container_spec",
    "first_container",
    "probe_of",
    "qos_class",
]

Json = Mapping[str, Any]

MARKER_ENV = "DRILLS_SANDBOX_POD"
"""Set to ``<namespace>/<name>`` in every pod process, so leftovers can be found in /proc."""

_HARNESS = Path(__file__).resolve().parents[3]  # the harness's own checkout, not the project's

SANDBOX_BACKOFF = BackOff(base_s=0.5, cap_s=8.0, reset_after_s=30.0)
"""Restart back-off of the sandbox: the kubelet's shape (doubling, cap, reset), short figures."""

IMAGE_COMMANDS: Mapping[str, tuple[str, ...]] = {
    "shop": ("fixtures/shop/app.py",),
    # the second demo service (issue 18): drills-demo/notes:1.0
    "notes": ("fixtures/notes/app.py",),
    # backup-verification (RUNBOOKS §3.8): the backup CronJob's `pg_dump | gzip` to S3
    "pg-backup": ("fixtures/backup/pg_backup.py",),
    # drills run --load-in-cluster N: a Locust worker pod (drills.load.in_cluster)
    "drills-locust": (str(_HARNESS / "fixtures" / "locust_worker.py"),),
    # worker-queue-backlog (RUNBOOKS §3.16): the shop's Celery worker
    "shop-worker": ("fixtures/shop/worker.py",),
}
"""Image repository (its last path part) -> script under the repository root, run by Python."""


def command_for_image(image: str, repo_root: Path) -> tuple[str, ...]:
    """The argv standing in for a container image; LookupError for an image the sandbox lacks."""
    last = image.rsplit("/", 1)[-1]
    repository = last.split(":", 1)[0].split("@", 1)[0]
    script = IMAGE_COMMANDS.get(repository)
    if script is None:
        known = ", ".join(f"*/{name}:<tag>" for name in sorted(IMAGE_COMMANDS))
        msg = f'image "{image}" has no local command in the sandbox (it runs {known})'
        raise LookupError(msg)
    return (sys.executable, *(str(repo_root / part) for part in script))


@dataclass(frozen=True)
class ProbeScale:
    """Factors applied to probes' periodSeconds and initialDelaySeconds.

    `liveness` scales liveness probes; `readiness`, when set, replaces it for readiness probes,
    so a new pod is seen Ready quickly while liveness keeps patience for a slow start.
    """

    liveness: float = 1.0
    readiness: float | None = None


def first_container(pod: Json) -> Json:
    """The container the sandbox runs: the first one of the spec."""
    containers: list[Json] = pod["spec"]["containers"]
    return containers[0]


def _port_of(container: Json, port: int | str) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for spec in container.get("ports") or []:
        if spec.get("name") == port:
            return int(spec["containerPort"])
    msg = f"probe port {port!r} names no port of container {container.get('name')!r}"
    raise LookupError(msg)


def probe_of(container: Json, key: str, scale: float) -> Probe | None:
    """The HTTP GET probe under `key` (``readinessProbe``...), periods scaled; None if absent."""
    raw = container.get(key)
    if not raw or "httpGet" not in raw:
        return None
    http = raw["httpGet"]
    return Probe(
        path=str(http.get("path", "/")),
        port=_port_of(container, http.get("port", 80)),
        period_s=float(raw.get("periodSeconds", 10)) * scale,
        timeout_s=float(raw.get("timeoutSeconds", 1)),
        failure_threshold=int(raw.get("failureThreshold", 3)),
        success_threshold=int(raw.get("successThreshold", 1)),
        initial_delay_s=float(raw.get("initialDelaySeconds", 0)) * scale,
    )


def qos_class(pod: Json) -> str:
    """The pod's QoS class from its containers' requests and limits (BestEffort/Burstable/...)."""
    containers: list[Json] = pod["spec"]["containers"]
    found = [_container_qos(container) for container in containers]
    if all(qos == "BestEffort" for qos in found):
        return "BestEffort"
    return "Guaranteed" if all(qos == "Guaranteed" for qos in found) else "Burstable"


def _container_qos(container: Json) -> str:
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    if not requests and not limits:
        return "BestEffort"
    guaranteed = all(
        limits.get(kind) is not None and requests.get(kind, limits[kind]) == limits[kind]
        for kind in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


def container_spec(
    pod: Json, argv: tuple[str, ...], env: Mapping[str, str], *, cwd: Path, scale: ProbeScale
) -> ContainerSpec:
    """The runner's spec for the pod's first container (env already resolved)."""
    container = first_container(pod)
    limit = (container.get("resources") or {}).get("limits", {}).get("memory")
    readiness_scale = scale.readiness if scale.readiness is not None else scale.liveness
    return ContainerSpec(
        name=str(container["name"]),
        argv=argv,
        image=str(container.get("image", "")),
        env=env,
        cwd=cwd,
        memory_limit_bytes=None if limit is None else parse_memory(str(limit)),
        readiness=probe_of(container, "readinessProbe", readiness_scale),
        liveness=probe_of(container, "livenessProbe", scale.liveness),
        termination_grace_s=float(pod["spec"].get("terminationGracePeriodSeconds", 30)),
        restart_policy=str(pod["spec"].get("restartPolicy", "Always")),
    )
