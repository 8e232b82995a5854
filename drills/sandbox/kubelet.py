"""The process kubelet of one sandbox node: binds pods in the API store to real processes.

Each `Kubelet` watches the `ObjectStore` (``store.subscribe``) for pods whose
``spec.nodeName`` is its node and runs their first container with
`drills.sandbox.pods.ContainerRunner` (probes, restart back-off, CrashLoopBackOff, OOMKilled):

- a new pod gets a distinct loopback pod IP (`PodIPs`), its container's environment resolved
  from the spec (``value``, ``fieldRef`` and ``secretKeyRef`` when the store holds the Secret,
  else the kubelet's ``default_env``), and a log file ``<state_dir>/pods/<ns>_<name>.log``
  that serves ``kubectl logs``; a pid file next to it lets ``drills sandbox down`` find
  stragglers;
- its status (conditions PodScheduled/Initialized/ContainersReady/Ready, containerStatuses,
  phase, podIP, hostIP, startTime, qosClass) is written on every change of the runner;
- a pod marked for deletion is stopped (SIGTERM, its grace period, SIGKILL) and then removed
  with ``finalize_delete``; a pod removed at once (grace 0) has its process killed;
- kubelet events (Pulled, Created, Started, Killing, Unhealthy, BackOff, OOMKilling) are
  stored as ``events`` with ``source.component=kubelet``;
- CPU (utime+stime deltas, millicores) and RSS of every pod process go to the usage sink
  (the `drills.sandbox.metrics.PodMetrics` registry in the daemon).

Heartbeats update the Node's ``Ready`` condition (``lastHeartbeatTime``) every
``heartbeat_period_s``; `stop_heartbeats()` freezes them, so the node lifecycle controller sees
the node go NotReady as when a real node dies.

Images map to commands in `IMAGE_COMMANDS`: any image whose repository ends in ``shop`` runs
``python fixtures/shop/app.py``; the tag is passed to the app as ``IMAGE`` (tag ``bad`` makes
it crash at start-up, the bad-release fault).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from drills.sandbox.apiserver.store import StoreReader
from drills.sandbox.pods import BackOff, ContainerRunner, ContainerSpec, PodIPs, Probe, parse_memory

__all__ = [
    "IMAGE_COMMANDS",
    "MARKER_ENV",
    "SANDBOX_BACKOFF",
    "Kubelet",
    "KubeletConfig",
    "Store",
    "command_for_image",
]

MARKER_ENV = "DRILLS_SANDBOX_POD"
"""Set to ``<namespace>/<name>`` in every pod process, so leftovers can be found in /proc."""

SANDBOX_BACKOFF = BackOff(base_s=0.5, cap_s=8.0, reset_after_s=30.0)
"""Restart back-off of the sandbox: the kubelet's shape (doubling, cap, reset), short figures."""

IMAGE_COMMANDS: Mapping[str, tuple[str, ...]] = {"shop": ("fixtures/shop/app.py",)}
"""Image repository (its last path part) -> script under the repository root, run by Python."""

UsageSink = Callable[[str, str, float, int], None]
"""usage(namespace, pod, cpu_millicores, rss_bytes)."""

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Store(StoreReader, Protocol):
    """The parts of `drills.sandbox.apiserver.store.ObjectStore` the kubelet uses."""

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        """One object (raises when absent)."""

    def create(
        self, resource: str, obj: dict[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        """Store a new object."""

    def update_status(
        self, resource: str, namespace: str | None, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace an object's status."""

    def finalize_delete(self, resource: str, namespace: str | None, name: str) -> None:
        """Remove an object marked for deletion."""

    def subscribe(self, callback: Callable[[str, str, dict[str, Any]], None]) -> Callable[[], None]:
        """Call `callback(event_type, resource, obj)` after each change."""

    def timestamp(self) -> str:
        """The current time in RFC 3339."""


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


@dataclass
class KubeletConfig:
    """Settings of one process kubelet (durations short so drills finish in seconds).

    `probe_time_scale` multiplies every probe's periodSeconds and initialDelaySeconds (0.25
    turns the shop's 5 s liveness period into 1.25 s); `readiness_time_scale`, when set,
    replaces it for readiness probes, so a new pod is seen Ready quickly while liveness keeps
    enough patience for a slow start on a busy machine.
    """

    node_name: str
    repo_root: Path
    state_dir: Path
    backoff: BackOff = SANDBOX_BACKOFF
    probe_time_scale: float = 1.0
    readiness_time_scale: float | None = None
    memory_poll_s: float = 0.2
    usage_period_s: float = 1.0
    heartbeat_period_s: float = 1.0
    default_env: Mapping[str, str] = field(default_factory=dict)


def _port_of(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for spec in container.get("ports", []):
        if spec.get("name") == port:
            return int(spec["containerPort"])
    msg = f"probe port {port!r} names no port of container {container.get('name')!r}"
    raise LookupError(msg)


def _probe(container: dict[str, Any], key: str, scale: float) -> Probe | None:
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


def _qos_class(container: dict[str, Any]) -> str:
    resources = container.get("resources", {})
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    if not requests and not limits:
        return "BestEffort"
    guaranteed = all(
        limits.get(kind) is not None and requests.get(kind, limits[kind]) == limits[kind]
        for kind in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


def _node_info(name: str) -> dict[str, str]:
    return {
        "kubeletVersion": "v1.30.0-sandbox",
        "kubeProxyVersion": "v1.30.0-sandbox",
        "containerRuntimeVersion": "sandbox://process",
        "operatingSystem": "linux",
        "architecture": "amd64",
        "kernelVersion": "sandbox",
        "osImage": "drills sandbox",
        "bootID": name,
        "machineID": name,
        "systemUUID": name,
    }


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


def _rss(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((line for line in text.splitlines() if line.startswith("VmRSS:")), "VmRSS: 0")
    return int(line.split()[1]) * 1024


@dataclass
class _PodRun:
    """One pod on this node: its runner and the bookkeeping of its status."""

    pod: dict[str, Any]
    pod_ip: str
    runner: ContainerRunner | None = None
    task: asyncio.Task[None] | None = None
    transitions: dict[str, tuple[str, str]] = field(default_factory=dict)
    start_time: str = ""
    last_ticks: int = 0
    stopping: bool = False

    @property
    def namespace(self) -> str:
        """The pod's namespace."""
        return str(self.pod["metadata"].get("namespace") or "default")

    @property
    def name(self) -> str:
        """The pod's name."""
        return str(self.pod["metadata"]["name"])

    @property
    def container(self) -> dict[str, Any]:
        """The container the sandbox runs (the first of the spec)."""
        containers: list[dict[str, Any]] = self.pod["spec"]["containers"]
        return containers[0]


class Kubelet:
    """Runs the pods bound to one node as real processes and reports their status."""

    def __init__(
        self,
        store: Store,
        config: KubeletConfig,
        *,
        ips: PodIPs | None = None,
        usage_sink: UsageSink | None = None,
    ) -> None:
        """Bind to `store`; call `start()` inside the running event loop."""
        self.store = store
        self.config = config
        self.node_name = config.node_name
        self.ips = ips or PodIPs()
        self.usage_sink = usage_sink
        self.runs: dict[str, _PodRun] = {}
        self.heartbeats_enabled = True
        self._unsubscribe: Callable[[], None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def pods_dir(self) -> Path:
        """Where pod logs and pid files live."""
        return self.config.state_dir / "pods"

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Register the node, heartbeat, and take over the pods already bound to it."""
        loop = asyncio.get_running_loop()
        self.pods_dir.mkdir(parents=True, exist_ok=True)
        self._register_node()
        self._unsubscribe = self.store.subscribe(self._on_change)
        pods, _ = self.store.list("pods", field_selector=f"spec.nodeName={self.node_name}")
        for pod in pods:
            self._on_change("ADDED", "pods", pod)
        self._tasks = [
            loop.create_task(self._beat(), name=f"heartbeat {self.node_name}"),
            loop.create_task(self._sample_usage(), name=f"usage {self.node_name}"),
        ]

    async def stop(self) -> None:
        """Stop every pod process (SIGTERM, grace period, SIGKILL) and the node's loops."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        runs = list(self.runs.values())
        for run in runs:
            run.stopping = True
        await asyncio.gather(*(self._halt(run, None) for run in runs), return_exceptions=True)

    def stop_heartbeats(self) -> None:
        """Freeze the node's heartbeat (node-down drills); its pods keep running."""
        self.heartbeats_enabled = False

    def resume_heartbeats(self) -> None:
        """Resume the node's heartbeat."""
        self.heartbeats_enabled = True

    def pod_ip(self, namespace: str, name: str) -> str | None:
        """The pod IP this kubelet gave a pod, if it runs here."""
        for run in self.runs.values():
            if (run.namespace, run.name) == (namespace, name):
                return run.pod_ip
        return None

    # ------------------------------------------------------------------ store changes
    def _on_change(self, event_type: str, resource: str, obj: dict[str, Any]) -> None:
        if resource != "pods" or obj.get("spec", {}).get("nodeName") != self.node_name:
            return
        uid = str(obj["metadata"].get("uid"))
        run = self.runs.get(uid)
        meta = obj["metadata"]
        if run is None and event_type != "DELETED":
            if "deletionTimestamp" in meta:
                self.store.finalize_delete("pods", meta.get("namespace"), meta["name"])
            else:
                self._admit(uid, obj)
        elif run is not None and not run.stopping:
            if event_type == "DELETED":
                self._begin_stop(run, 0.0, finalize=False)
            elif "deletionTimestamp" in meta:
                grace = float(meta.get("deletionGracePeriodSeconds", 30))
                self._begin_stop(run, grace, finalize=True)

    def _admit(self, uid: str, pod: dict[str, Any]) -> None:
        ports = pod["spec"]["containers"][0].get("ports") or [{}]
        port = ports[0].get("containerPort")
        run = _PodRun(pod=pod, pod_ip=self.ips.allocate(None if port is None else int(port)))
        run.start_time = self.store.timestamp()
        self.runs[uid] = run
        run.task = asyncio.get_running_loop().create_task(self._launch(run), name=run.name)

    def _begin_stop(self, run: _PodRun, grace_s: float, *, finalize: bool) -> None:
        run.stopping = True
        task = asyncio.get_running_loop().create_task(self._halt(run, grace_s))
        if finalize:
            task.add_done_callback(lambda _t: self._finalize(run))
        self._tasks.append(task)

    async def _halt(self, run: _PodRun, grace_s: float | None) -> None:
        if run.runner is not None:
            await run.runner.stop(grace_s)
        (self.pods_dir / f"{run.namespace}_{run.name}.pid").unlink(missing_ok=True)
        self.ips.release(run.pod_ip)
        self.runs.pop(str(run.pod["metadata"].get("uid")), None)

    def _finalize(self, run: _PodRun) -> None:
        self.store.finalize_delete("pods", run.namespace, run.name)

    # ------------------------------------------------------------------ one pod
    async def _launch(self, run: _PodRun) -> None:
        container = run.container
        image = str(container.get("image", ""))
        try:
            argv = command_for_image(image, self.config.repo_root)
        except LookupError as exc:
            self._event(run, "Warning", "Failed", f"Failed to pull image: {exc}")
            self._write_status(run, waiting={"reason": "ErrImagePull", "message": str(exc)})
            return
        self._event(
            run, "Normal", "Pulled", f'Container image "{image}" already present on machine'
        )
        spec = self._container_spec(run, argv)
        run.runner = ContainerRunner(
            spec,
            pod_ip=run.pod_ip,
            log_path=self.pods_dir / f"{run.namespace}_{run.name}.log",
            backoff=self.config.backoff,
            memory_poll_s=self.config.memory_poll_s,
            on_change=lambda: self._on_runner_change(run),
            on_event=lambda kind, reason, message: self._event(run, kind, reason, message),
        )
        self._event(run, "Normal", "Created", f"Created container {spec.name}")
        run.runner.start()

    def _container_spec(self, run: _PodRun, argv: tuple[str, ...]) -> ContainerSpec:
        container = run.container
        limit = container.get("resources", {}).get("limits", {}).get("memory")
        scale = self.config.probe_time_scale
        readiness_scale = self.config.readiness_time_scale or scale
        env = self._env(run)
        return ContainerSpec(
            name=str(container["name"]),
            argv=argv,
            image=str(container.get("image", "")),
            env=env,
            cwd=self.config.repo_root,
            memory_limit_bytes=None if limit is None else parse_memory(str(limit)),
            readiness=_probe(container, "readinessProbe", readiness_scale),
            liveness=_probe(container, "livenessProbe", scale),
            termination_grace_s=float(run.pod["spec"].get("terminationGracePeriodSeconds", 30)),
        )

    def _env(self, run: _PodRun) -> dict[str, str]:
        env = dict(self.config.default_env)
        for item in run.container.get("env", []):
            value = self._env_value(run, item)
            if value is not None:
                env[str(item["name"])] = value
        env.update(
            {
                "POD_IP": run.pod_ip,
                "POD_NAME": run.name,
                "POD_NAMESPACE": run.namespace,
                "NODE_NAME": self.node_name,
                MARKER_ENV: f"{run.namespace}/{run.name}",
            }
        )
        return env

    def _env_value(self, run: _PodRun, item: dict[str, Any]) -> str | None:
        if "value" in item:
            return str(item["value"])
        ref = item.get("valueFrom", {})
        if "fieldRef" in ref:
            fields = {
                "metadata.name": run.name,
                "metadata.namespace": run.namespace,
                "spec.nodeName": self.node_name,
                "status.podIP": run.pod_ip,
            }
            return fields.get(str(ref["fieldRef"].get("fieldPath", "")))
        if "secretKeyRef" in ref:
            return self._secret_value(run.namespace, ref["secretKeyRef"])
        return None

    def _secret_value(self, namespace: str, ref: dict[str, Any]) -> str | None:
        try:
            secret = self.store.try_get("secrets", namespace, str(ref.get("name")))
        except Exception:  # a store without a secrets resource: fall back to default_env
            return None
        key = ref.get("key")
        data = (secret or {}).get("data", {})
        if key in data:
            return base64.b64decode(str(data[key])).decode()
        value = (secret or {}).get("stringData", {}).get(key)
        return None if value is None else str(value)

    def _on_runner_change(self, run: _PodRun) -> None:
        runner = run.runner
        if runner is not None and runner.pid is not None:
            pid_file = self.pods_dir / f"{run.namespace}_{run.name}.pid"
            pid_file.write_text(f"{runner.pid}\n")
        self._write_status(run)

    # ------------------------------------------------------------------ status
    def _condition(self, run: _PodRun, kind: str, *, value: bool) -> dict[str, Any]:
        text = "True" if value else "False"
        previous = run.transitions.get(kind)
        if previous is None or previous[0] != text:
            run.transitions[kind] = (text, self.store.timestamp())
        condition: dict[str, Any] = {
            "type": kind,
            "status": text,
            "lastProbeTime": None,
            "lastTransitionTime": run.transitions[kind][1],
        }
        if not value:
            condition["reason"] = "ContainersNotReady"
            condition["message"] = f"containers with unready status: [{run.container['name']}]"
        return condition

    def _container_status(self, run: _PodRun, waiting: dict[str, Any] | None) -> dict[str, Any]:
        if run.runner is not None:
            return run.runner.snapshot()
        return {
            "name": run.container["name"],
            "image": run.container.get("image", ""),
            "imageID": "",
            "ready": False,
            "started": False,
            "restartCount": 0,
            "state": {"waiting": waiting or {"reason": "ContainerCreating"}},
            "lastState": {},
        }

    def _write_status(self, run: _PodRun, waiting: dict[str, Any] | None = None) -> None:
        container_status = self._container_status(run, waiting)
        ready = bool(container_status["ready"])
        ever_ran = "running" in container_status["state"] or bool(container_status["lastState"])
        status = {
            "phase": "Running" if ever_ran else "Pending",
            "conditions": [
                self._condition(run, "Initialized", value=True),
                self._condition(run, "Ready", value=ready),
                self._condition(run, "ContainersReady", value=ready),
                self._condition(run, "PodScheduled", value=True),
            ],
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": run.pod_ip,
            "podIPs": [{"ip": run.pod_ip}],
            "startTime": run.start_time,
            "qosClass": _qos_class(run.container),
            "containerStatuses": [container_status],
        }
        if self.store.try_get("pods", run.namespace, run.name) is not None:
            self.store.update_status("pods", run.namespace, run.name, status)

    def _event(self, run: _PodRun, kind: str, reason: str, message: str) -> None:
        meta = run.pod["metadata"]
        now = self.store.timestamp()
        body = {
            "metadata": {"generateName": f"{run.name}.", "namespace": run.namespace},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": run.name,
                "namespace": run.namespace,
                "uid": meta.get("uid"),
                "fieldPath": f"spec.containers{{{run.container['name']}}}",
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "source": {"component": "kubelet", "host": self.node_name},
            "reportingComponent": "kubelet",
            "reportingInstance": self.node_name,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        with contextlib.suppress(Exception):  # an event is never worth failing a pod over
            self.store.create("events", body, run.namespace)

    # ------------------------------------------------------------------ usage
    async def _sample_usage(self) -> None:
        period_s = self.config.usage_period_s
        while True:
            await asyncio.sleep(period_s)
            for run in list(self.runs.values()):
                self._sample_one(run, period_s)

    def _sample_one(self, run: _PodRun, period_s: float) -> None:
        pid = run.runner.pid if run.runner is not None else None
        ticks = None if pid is None else _cpu_ticks(pid)
        if pid is None or ticks is None or self.usage_sink is None:
            return
        delta = ticks - run.last_ticks if run.last_ticks else 0
        run.last_ticks = ticks
        millicores = delta / _CLOCK_TICKS / period_s * 1000.0
        self.usage_sink(run.namespace, run.name, millicores, _rss(pid))

    # ------------------------------------------------------------------ node
    def _register_node(self) -> None:
        if self.store.try_get("nodes", "", self.node_name) is None:
            labels = {
                "kubernetes.io/hostname": self.node_name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            }
            self.store.create(
                "nodes", {"metadata": {"name": self.node_name, "labels": labels}, "spec": {}}
            )
        self._write_node_status()

    def _write_node_status(self) -> None:
        node = self.store.get("nodes", "", self.node_name)
        status = node.get("status") or {}
        now = self.store.timestamp()
        conditions = [c for c in status.get("conditions", []) if c.get("type") != "Ready"]
        old: dict[str, Any] = next(
            (c for c in status.get("conditions", []) if c.get("type") == "Ready"), {}
        )
        since = old.get("lastTransitionTime") if old.get("status") == "True" else None
        conditions.append(
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": now,
                "lastTransitionTime": since or now,
            }
        )
        status["conditions"] = conditions
        status.setdefault("capacity", {"cpu": "2", "memory": "4Gi", "pods": "110"})
        status.setdefault("allocatable", {"cpu": "2", "memory": "4Gi", "pods": "110"})
        status.setdefault(
            "addresses",
            [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": self.node_name},
            ],
        )
        status.setdefault("nodeInfo", _node_info(self.node_name))
        self.store.update_status("nodes", "", self.node_name, status)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_period_s)
            if self.heartbeats_enabled:
                with contextlib.suppress(Exception):  # the node may have been deleted
                    self._write_node_status()
