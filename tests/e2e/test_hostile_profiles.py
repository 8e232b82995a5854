"""Hostile profiles against a live sandbox: exit 2, one message, and not one write in its audit log.

Issue 16, item 5. One sandbox, one `drills run` per category (tests/hostile_variants.py), as a
user would start it. Between the first run and the last, the API server's audit log must hold no
create, update, patch, delete or deletecollection from anyone but the sandbox's own components
(node agents, controllers, scheduler, metrics-server): the harness's identity (`drills-admin`,
the user of `.drills/sandbox/kubeconfig`) wrote nothing. A canary ConfigMap written with that
identity afterwards proves the log is read live and the filter sees the harness's writes. Last,
outside that window, the shipped profile passes the same preflight against the same sandbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from drills.core.clock import SystemClock
from drills.core.conditions import Observation
from drills.core.waiting import wait_until
from tests.e2e.drill_cli import REPO, sandboxed_project
from tests.hostile_variants import REPRESENTATIVES, Hostile

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

DRILL = "pod-kill-under-load"  # any drill: none may start
WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
HARNESS = "drills-admin"  # drills/sandbox/controlplane.py: the admin kubeconfig's user
CANARY = "hostile-profiles-canary"
# The sandbox's own components keep writing (leases, pod status, events) all the time.
SANDBOX_OWN = (
    "system:node:",
    "system:kube-controller-manager",
    "system:kube-scheduler",
    "system:apiserver",
    "system:serviceaccount:kube-system:",
    "drills-metrics-server",
    "drills-service-proxy",
)


@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    with sandboxed_project("drills-hostile-") as root:
        yield root


def _run(root: Path, hostile: Hostile) -> tuple[int, str]:
    extra = ["--", *hostile.pytest_args] if hostile.pytest_args else []
    args = ["--env", f"hostile-{hostile.id}", DRILL, *extra]
    return _drills_run(root, *args, env=hostile.env, unset=hostile.unset)


def _drills_run(
    root: Path, *args: str, env: Mapping[str, str] | None = None, unset: tuple[str, ...] = ()
) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if k not in unset}
    environ.update({"PYTHONPATH": str(REPO), **(env or {})})
    command = [sys.executable, "-m", "drills.cli", "--root", str(root), "run", *args]
    done = subprocess.run(
        command, env=environ, capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode, done.stdout + done.stderr


def _events(audit_log: Path, offset: int) -> list[dict[str, Any]]:
    with audit_log.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _writes_by_others(events: list[dict[str, Any]]) -> list[str]:
    return [
        f"{e['user']['username']} {e['verb']} {e['requestURI']}"
        for e in events
        if e.get("verb") in WRITES and not e["user"]["username"].startswith(SANDBOX_OWN)
    ]


def _write_canary(root: Path) -> None:
    from kubernetes import client, config

    api = client.CoreV1Api(
        config.new_client_from_config(config_file=str(root / ".drills/sandbox/kubeconfig"))
    )
    body = {"metadata": {"name": CANARY}, "data": {"why": "the audit log filter sees writes"}}
    api.create_namespaced_config_map("default", body)


def test_every_hostile_profile_ends_in_one_message_and_writes_nothing(project: Path) -> None:
    """Each category refused with its message; then the log shows no write but the canary."""
    audit_log = project / ".drills" / "sandbox" / "audit.log"
    offset = audit_log.stat().st_size
    for hostile in REPRESENTATIVES:
        profile = hostile.install(project)
        code, output = _run(project, hostile)
        hostile.assert_refused(profile, code, output)
    assert not (project / "reports").exists()  # no run began: no evidence, no journal

    during = _events(audit_log, offset)
    assert _writes_by_others(during) == []
    _write_canary(project)

    def canary_logged() -> Observation:
        seen = _writes_by_others(_events(audit_log, offset))
        return Observation(ok=bool(seen), detail=f"{len(seen)} write(s) by the harness")

    wait_until(canary_logged, clock=SystemClock(), timeout_s=30, poll_s=0.2)
    [canary] = _writes_by_others(_events(audit_log, offset))
    assert canary.startswith(f"{HARNESS} create /api/v1/namespaces/default/configmaps"), canary

    # Outside the audited window: the shipped profile passes the same preflight (kubeconfig,
    # namespace, moto's account) and the run goes on to pytest, which refuses the unknown id.
    code, output = _drills_run(project, "--dry-run", "no-such-drill")
    assert code == 2, output
    assert "unknown drill id(s): no-such-drill" in output, output
    assert "Fix:" not in output, output
