"""The whole sandbox through `control.up/down/status`, the official client and kubectl."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from drills.sandbox import control
from drills.sandbox.daemon import SandboxPaths
from tests.sandbox.sandbox_root import sandbox_in_temp_root

pytestmark = pytest.mark.sandbox

CLOCK = SystemClock()


@pytest.fixture(scope="session")
def sandbox_root() -> Iterator[Path]:
    """A copy of the repository's shop fixture under a temporary root, with one sandbox up."""
    with sandbox_in_temp_root() as root:
        yield root


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


def kubectl_runner(sandbox_root: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """A `kubectl ARGS...` runner against the sandbox, or skip when kubectl is missing.

    It is the kubectl built with the sandbox's API server (the same release), not one on PATH.
    """
    kubectl = str(Path(__file__).resolve().parents[2] / ".drills/bin/kubectl")
    if not Path(kubectl).exists():
        pytest.skip("no kubectl; run `make .drills/bin/kubectl`")
    kubeconfig = str(SandboxPaths(sandbox_root).kubeconfig)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [kubectl, "--kubeconfig", kubeconfig, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


def test_kubectl_gets_pods(sandbox_root: Path) -> None:
    result = kubectl_runner(sandbox_root)("get", "pods", "-o", "wide")
    assert result.returncode == 0, result.stderr
    assert "Running" in result.stdout


def test_kubectl_scale_up_and_back(sandbox_root: Path, core: client.CoreV1Api) -> None:
    kubectl = kubectl_runner(sandbox_root)
    # With an HPA in place a manual scale is reverted at its next sync (as on a cluster),
    # so the runbook raises the HPA's floor first.
    floor = kubectl("patch", "hpa", "shop", "--type=merge", "-p", '{"spec":{"minReplicas":4}}')
    assert floor.returncode == 0, floor.stderr
    scaled = kubectl("scale", "deployment/shop", "--replicas=4")
    assert scaled.returncode == 0, scaled.stderr
    assert wait_until(
        lambda: len(ready_pods(core)) == 4, clock=CLOCK, timeout_s=30, poll_s=0.05
    ).met
    floor = kubectl("patch", "hpa", "shop", "--type=merge", "-p", '{"spec":{"minReplicas":3}}')
    assert floor.returncode == 0, floor.stderr
    assert kubectl("scale", "deployment/shop", "--replicas=3").returncode == 0
    apps = client.AppsV1Api(core.api_client)

    def settled() -> bool:
        # The HPA (min 3) may move replicas again; the pods must follow whatever spec says.
        wanted = apps.read_namespaced_deployment("shop", "default").spec.replicas
        pods = core.list_namespaced_pod("default", label_selector="app=shop").items
        return bool(wanted >= 3 and len(pods) == wanted and len(ready_pods(core)) == wanted)

    assert wait_until(settled, clock=CLOCK, timeout_s=30, poll_s=0.05).met


def crash_looping(core: client.CoreV1Api) -> bool:
    for pod in core.list_namespaced_pod("default", label_selector="app=shop").items:
        for status in pod.status.container_statuses or []:
            waiting = status.state.waiting if status.state else None
            if waiting is not None and waiting.reason == "CrashLoopBackOff":
                return True
    return False


def test_bad_release_crash_loops_and_rollout_undo_recovers(
    sandbox_root: Path, core: client.CoreV1Api
) -> None:
    kubectl = kubectl_runner(sandbox_root)
    bad = kubectl("set", "image", "deployment/shop", "shop=drills/shop:bad")
    assert bad.returncode == 0, bad.stderr
    assert wait_until(lambda: crash_looping(core), clock=CLOCK, timeout_s=30, poll_s=0.05).met
    assert len(ready_pods(core)) >= 3  # maxUnavailable 0: the old pods keep serving
    undo = kubectl("rollout", "undo", "deployment/shop")
    assert undo.returncode == 0, undo.stderr
    status = kubectl("rollout", "status", "deployment/shop", "--timeout=60s")
    assert status.returncode == 0, status.stderr + status.stdout
    images = {
        pod.spec.containers[0].image
        for pod in core.list_namespaced_pod("default", label_selector="app=shop").items
        if pod.metadata.deletion_timestamp is None
    }
    assert images == {"shop:1.0.0"}
    assert wait_until(lambda: not crash_looping(core), clock=CLOCK, timeout_s=30, poll_s=0.05).met


def test_cordon_and_drain_moves_pods_off_a_node(sandbox_root: Path, core: client.CoreV1Api) -> None:
    kubectl = kubectl_runner(sandbox_root)
    node = "sandbox-node-1"
    drained = kubectl(
        "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s"
    )
    try:
        assert drained.returncode == 0, drained.stderr
        assert core.read_node(node).spec.unschedulable is True
        assert wait_until(
            lambda: len(ready_pods(core)) >= 3, clock=CLOCK, timeout_s=30, poll_s=0.05
        ).met
        on_node = [
            pod.metadata.name
            for pod in core.list_namespaced_pod("default", label_selector="app=shop").items
            if pod.spec.node_name == node and pod.metadata.deletion_timestamp is None
        ]
        assert on_node == []
    finally:
        assert kubectl("uncordon", node).returncode == 0


def hpa_cpu_percent(sandbox_root: Path) -> int:
    """The HPA's current average CPU utilisation as `kubectl get hpa -o json` shows it."""
    result = kubectl_runner(sandbox_root)("get", "hpa", "shop", "-o", "json")
    assert result.returncode == 0, result.stderr
    for metric in json.loads(result.stdout).get("status", {}).get("currentMetrics") or []:
        current = metric.get("resource", {}).get("current", {})
        if "averageUtilization" in current:
            return int(current["averageUtilization"])
    return 0


def test_hpa_status_shows_cpu_rising_under_load(sandbox_root: Path) -> None:
    service_url = control.status(sandbox_root).endpoints["service_url"]
    idle = hpa_cpu_percent(sandbox_root)
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                urllib.request.urlopen(service_url + "/orders/load-probe", timeout=5).close()

    workers = [threading.Thread(target=hammer, daemon=True) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        rose = wait_until(
            lambda: hpa_cpu_percent(sandbox_root) >= idle + 5,
            clock=CLOCK,
            timeout_s=30,
            poll_s=0.5,
            description="HPA CPU rises under load",
        )
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)
    assert rose.met
