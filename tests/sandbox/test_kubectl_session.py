"""kubectl as users type it, against a whole sandbox on the upstream control plane.

One sandbox for the module, in a temporary project root. Every command is the pinned kubectl
(the server's minor) with the sandbox's kubeconfig, validation on; each test checks what the
command printed or changed, not only that it exited 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.core.clock import SystemClock
from drills.core.conditions import Observation
from drills.core.waiting import wait_until
from tests.sandbox.sandbox_root import REPO, sandbox_in_temp_root

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's pod network needs root")

KUBECTL = REPO / ".drills" / "bin" / "kubectl"


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    if not KUBECTL.exists():
        pytest.skip("kubectl missing: run `make .drills/bin/kubectl` (make test does)")
    with sandbox_in_temp_root() as project:
        yield project


def _run(
    root: Path, *args: str, check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    config = root / ".drills" / "sandbox" / "kubeconfig"
    done = subprocess.run(
        [str(KUBECTL), f"--kubeconfig={config}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )
    if check and done.returncode != 0:
        pytest.fail(f"kubectl {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done


def kubectl(root: Path, *args: str, **env: str) -> str:
    return _run(root, *args, check=True, **env).stdout


def get(root: Path, *args: str) -> Any:
    return json.loads(kubectl(root, "get", *args, "-o", "json"))


def await_(check: Any, description: str, timeout_s: float = 90) -> None:
    def probe() -> Observation:
        ok, detail = check()
        return Observation(ok=ok, detail=detail)

    wait_until(probe, clock=SystemClock(), timeout_s=timeout_s, poll_s=0.5, description=description)


def ready_pods(root: Path, selector: str) -> list[dict[str, Any]]:
    pods = get(root, "pods", "-l", selector)["items"]
    return [
        p
        for p in pods
        if "deletionTimestamp" not in p["metadata"]
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions", [])
        )
    ]


def test_version_reports_the_pinned_server(root: Path) -> None:
    versions = json.loads(kubectl(root, "version", "-o", "json"))
    assert versions["serverVersion"]["gitVersion"] == "v1.37.2"
    assert versions["clientVersion"]["minor"] == versions["serverVersion"]["minor"]


def test_nodes_and_pods_wide(root: Path) -> None:
    nodes = kubectl(root, "get", "nodes", "-o", "wide")
    assert nodes.count(" Ready ") == 3, nodes
    pods = get(root, "pods", "-l", "app=shop")["items"]
    ips = {p["status"]["podIP"] for p in pods}
    assert len(ips) == 3, ips
    assert all(ip.startswith("10.244.") for ip in ips), ips
    wide = kubectl(root, "get", "pods", "-o", "wide")
    assert all(ip in wide for ip in ips)


def test_describe_pod_shows_events_from_scheduler_and_kubelet(root: Path) -> None:
    name = get(root, "pods", "-l", "app=shop")["items"][0]["metadata"]["name"]
    text = kubectl(root, "describe", "pod", name)
    for expected in ("Scheduled", "default-scheduler", "Started", "kubelet"):
        assert expected in text, text


def test_apply_validates_against_the_served_openapi(root: Path) -> None:
    manifests = REPO / "fixtures" / "shop" / "k8s"
    text = kubectl(root, "apply", "-f", str(manifests))
    # then the request-rate HPA, as the sandbox applies it: it serves custom.metrics.k8s.io
    text += kubectl(root, "apply", "-f", str(manifests / "custom-metrics"))
    for name in (
        "deployment.apps/shop",
        "service/shop",
        "horizontalpodautoscaler.autoscaling/shop",
    ):
        assert f"{name} unchanged" in text or f"{name} configured" in text, text
    typo = root / "typo.yaml"
    typo.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndatta:\n  key: value\n"
    )
    refused = _run(root, "apply", "-f", str(typo), check=False)
    assert refused.returncode != 0
    assert 'unknown field "datta"' in refused.stderr, refused.stderr


def test_typed_create_then_logs_of_a_crash_loop(root: Path) -> None:
    kubectl(root, "create", "deployment", "crasher", "--image=shop:bad")

    def crashed() -> tuple[bool, str]:
        pods = get(root, "pods", "-l", "app=crasher")["items"]
        restarts = [
            s["restartCount"] for p in pods for s in p["status"].get("containerStatuses", [])
        ]
        return bool(restarts) and max(restarts) >= 1, f"restarts {restarts}"

    await_(crashed, "the crasher restarted once")
    name = get(root, "pods", "-l", "app=crasher")["items"][0]["metadata"]["name"]

    def previous_run() -> tuple[bool, str]:
        # Until the next run starts (after the back-off), the run that crashed is the current one.
        done = _run(root, "logs", name, "--previous", check=False)
        return done.returncode == 0 and "broken build" in done.stdout, done.stdout + done.stderr

    await_(previous_run, "logs --previous shows the crashed run")
    assert kubectl(root, "logs", name, "--tail=1").count("\n") <= 1
    kubectl(root, "delete", "deployment", "crasher", "--wait=true")


def test_scale_and_set_image_and_rollout(root: Path) -> None:
    kubectl(root, "rollout", "restart", "deployment/shop")
    kubectl(root, "rollout", "status", "deployment/shop", "--timeout=90s")
    history = kubectl(root, "rollout", "history", "deployment/shop")
    assert "2" in history.split("REVISION", 1)[1]
    kubectl(root, "rollout", "undo", "deployment/shop")
    kubectl(root, "rollout", "status", "deployment/shop", "--timeout=90s")
    assert len(ready_pods(root, "app=shop")) == 3


_EDITOR = """
import sys
path = sys.argv[-1]
text = open(path).read()
label = "\\n  labels:\\n"
open(path, "w").write(text.replace(label, label + "    edited: by-kube-editor\\n", 1))
"""


def test_edit_through_kube_editor(root: Path) -> None:
    script = root / "editor.py"
    script.write_text(_EDITOR)
    kubectl(root, "edit", "service", "shop", KUBE_EDITOR=f"{sys.executable} {script}")
    assert get(root, "service", "shop")["metadata"]["labels"]["edited"] == "by-kube-editor"


def test_force_delete_is_replaced(root: Path) -> None:
    name = get(root, "pods", "-l", "app=shop")["items"][0]["metadata"]["name"]
    kubectl(root, "delete", "pod", name, "--grace-period=0", "--force")

    def replaced() -> tuple[bool, str]:
        names = {p["metadata"]["name"] for p in ready_pods(root, "app=shop")}
        return len(names) == 3 and name not in names, f"ready {sorted(names)}"

    await_(replaced, "a replacement Ready")


def test_drain_moves_pods_to_other_nodes(root: Path) -> None:
    pods = get(root, "pods", "-l", "app=shop")["items"]
    node = pods[0]["spec"]["nodeName"]
    kubectl(root, "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=90s")
    try:

        def moved() -> tuple[bool, str]:
            ready = ready_pods(root, "app=shop")
            nodes = [p["spec"]["nodeName"] for p in ready]
            return len(ready) == 3 and node not in nodes, f"ready on {nodes}"

        await_(moved, f"3 Ready shop pods off {node}")
        assert get(root, "node", node)["spec"]["unschedulable"] is True
    finally:
        kubectl(root, "uncordon", node)
    assert "unschedulable" not in get(root, "node", node)["spec"]


def test_top_and_hpa_have_real_values(root: Path) -> None:
    def top() -> tuple[bool, str]:
        done = _run(root, "top", "pods", "-l", "app=shop", check=False)
        return done.returncode == 0 and "shop-" in done.stdout, done.stdout + done.stderr

    await_(top, "metrics-server serving pod metrics", timeout_s=120)
    nodes = kubectl(root, "top", "nodes")
    assert "sandbox-node-1" in nodes

    def hpa_metrics() -> tuple[bool, str]:
        status = get(root, "hpa", "shop")["status"]
        kinds = {m["type"] for m in status.get("currentMetrics") or []}
        return kinds == {"Resource", "Pods"}, f"current metrics {status.get('currentMetrics')}"

    await_(hpa_metrics, "the HPA reads CPU and request rate", timeout_s=120)
    described = kubectl(root, "describe", "hpa", "shop")
    assert "<unknown>" not in described, described


def test_events_slices_and_streaming_refused(root: Path) -> None:
    events = kubectl(root, "get", "events", "--sort-by=.lastTimestamp")
    assert "Started" in events
    slices = kubectl(root, "get", "endpointslices", "-l", "kubernetes.io/service-name=shop")
    assert "10.244." in slices
    name = get(root, "pods", "-l", "app=shop")["items"][0]["metadata"]["name"]
    done = _run(root, "exec", name, "--", "true", check=False)
    assert done.returncode != 0
    assert "streaming" in (done.stderr + done.stdout).lower()
