"""The whole sandbox through `control.up/down/status`, the official client and kubectl."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from drills.sandbox import control
from drills.sandbox.daemon import SandboxPaths

pytestmark = pytest.mark.sandbox

CLOCK = SystemClock()


@pytest.fixture(scope="session")
def sandbox_root() -> Iterator[Path]:
    """A copy of the repository's shop fixture under a temporary root, with one sandbox up."""
    repo = Path(__file__).resolve().parents[2]
    root = Path(tempfile.mkdtemp(prefix="drills-sandbox-", dir="/tmp"))
    root.chmod(0o755)  # the unprivileged PostgreSQL user must traverse it
    shutil.copytree(repo / "fixtures" / "shop", root / "fixtures" / "shop")
    try:
        control.up(root, timeout_s=90)
        yield root
    finally:
        state = control.down(root)
        shutil.rmtree(root, ignore_errors=True)
        assert state.leftovers == []


@pytest.fixture(scope="session")
def core(sandbox_root: Path) -> client.CoreV1Api:
    api_client = config.new_client_from_config(str(SandboxPaths(sandbox_root).kubeconfig))
    return client.CoreV1Api(api_client)


def ready_pods(core: client.CoreV1Api) -> list[str]:
    pods = core.list_namespaced_pod("default", label_selector="app=shop").items
    return [
        pod.metadata.name
        for pod in pods
        if pod.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
    ]


def test_status_reports_three_ready_pods(sandbox_root: Path) -> None:
    state = control.status(sandbox_root)
    assert state.running
    assert {"kube_api", "service_url", "database_dsn", "namespace"} <= set(state.endpoints)
    assert sum(1 for pod in state.pods if pod["ready"]) >= 3
    assert len({pod["ip"] for pod in state.pods}) == len(state.pods)
    assert any("ready=True" in line for line in state.lines())


def test_up_is_idempotent(sandbox_root: Path) -> None:
    before = control.status(sandbox_root).pid
    assert control.up(sandbox_root).pid == before


def test_deleted_pod_is_replaced_by_a_ready_one(core: client.CoreV1Api) -> None:
    victim = ready_pods(core)[0]
    core.delete_namespaced_pod(victim, "default")
    waited = wait_until(
        lambda: len([name for name in ready_pods(core) if name != victim]) >= 3,
        clock=CLOCK,
        timeout_s=30,
        poll_s=0.05,
        description="replacement Ready",
    )
    assert waited.met
    assert wait_until(
        lambda: victim not in [p.metadata.name for p in core.list_namespaced_pod("default").items],
        clock=CLOCK,
        timeout_s=20,
        poll_s=0.05,
    ).met


def test_kubectl_gets_pods(sandbox_root: Path) -> None:
    kubectl = shutil.which("kubectl") or str(
        Path(__file__).resolve().parents[2] / ".drills/bin/kubectl"
    )
    if not Path(kubectl).exists():
        pytest.skip("no kubectl; run `make .drills/bin/kubectl`")
    kube_api = control.status(sandbox_root).endpoints["kube_api"]
    try:
        urllib.request.urlopen(kube_api + "/api", timeout=5).close()
    except urllib.error.HTTPError:
        pytest.skip("the sandbox API server does not serve discovery (/api) yet")
    kubeconfig = str(SandboxPaths(sandbox_root).kubeconfig)
    result = subprocess.run(
        [kubectl, "--kubeconfig", kubeconfig, "get", "pods", "-o", "wide"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Running" in result.stdout
