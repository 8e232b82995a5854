"""`crashloop-rollback` end to end through `drills run`: PASS when healthy, FAIL when broken.

One sandbox for the module, in a temporary project root. Each test runs the real CLI in a
subprocess and reads the run's journal. The defect: the Deployment keeps no revision history
(`revisionHistoryLimit: 0`) and replaces pods with `Recreate`, so by the time the bad release
crash-loops its predecessor's ReplicaSet is already pruned and `kubectl rollout undo` has
nothing to go back to. The drill must say so and fail at once, and the fault's own rollback
must still leave the good image running.
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

from drills.core.safety import Allowlist, RollbackLedger
from drills.faults.pods import BadRelease
from drills.targets.adapters.kube import KubeWorkload, connect
from drills.targets.adapters.kube_rollbacks import ClusterBound
from tests.sandbox.sandbox_root import sandbox_in_temp_root

REPO = Path(__file__).resolve().parents[2]
DRILL = "crashloop-rollback"
GOOD_IMAGE = "shop:1.0.0"  # fixtures/shop/k8s/deployment.yaml
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    parts = ("scenarios", "fixtures/environments", "fixtures/shop")
    files = {"pyproject.toml": "", "conftest.py": (REPO / "conftest.py").read_text()}
    with sandbox_in_temp_root(parts, files=files, prefix="drills-crashloop-") as root:
        yield root


def _kubectl(root: Path, *args: str, timeout_s: float = 30) -> str:
    kubectl = REPO / ".drills" / "bin" / "kubectl"
    if not kubectl.exists():
        pytest.skip("kubectl missing: run `make .drills/bin/kubectl` (make test does)")
    config = ["--kubeconfig", str(root / ".drills" / "sandbox" / "kubeconfig")]
    done = subprocess.run(
        [str(kubectl), *config, *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    return done.stdout


def _drill(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "drills.cli", "--root", str(root), "run", DRILL, *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    journal = json.loads((root / "reports" / "latest" / "journal.json").read_text())
    [scenario] = journal["scenarios"]
    return done.returncode, scenario


def _objective(scenario: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [o for o in scenario["objectives"] if o["name"] == name]
    assert len(found) == 1, f"expected one {name} objective, got {found}"
    return found[0]


def _figures(scenario: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in scenario["figures"]}


def _assert_good_release_serves(root: Path) -> None:
    """The shop is back on the good image with every replica rolled out."""
    _kubectl(root, "rollout", "status", "deployment/shop", "--timeout=90s", timeout_s=100)
    image = _kubectl(
        root,
        "get",
        "deployment",
        "shop",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    )
    assert image == GOOD_IMAGE


def test_healthy_sandbox_passes_with_every_figure(project: Path) -> None:
    code, scenario = _drill(project)
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    rto = _objective(scenario, "RTO")
    assert rto["target_s"] == 900.0
    assert 0 < rto["measured_s"] < 900.0
    assert _objective(scenario, "RPO")["measured_s"] == 0.0
    figures = _figures(scenario)
    detect, mitigate = figures["time to detect"]["value"], figures["time to mitigate"]["value"]
    recover = figures["time to recover"]["value"]
    assert 0 < detect <= mitigate <= recover
    assert figures["restored revision"]["detail"] == (
        f"template image {GOOD_IMAGE}; last good {GOOD_IMAGE}"
    )
    assert figures["restarts over the stability window"]["value"] == 0.0
    assert "broken build" in figures["restarts of the crashing pod"]["detail"]  # logs --previous
    assert "PodCrashLooping would fire" in figures
    assert [s["outcome"] for s in scenario["steps"]] == ["ok"] * 6
    _assert_good_release_serves(project)


def test_a_rollback_with_no_history_to_restore_fails_the_drill(project: Path) -> None:
    before = json.loads(_kubectl(project, "get", "deployment", "shop", "-o", "json"))["spec"]
    broken = {"revisionHistoryLimit": 0, "strategy": {"type": "Recreate", "rollingUpdate": None}}
    restore = {"spec": {k: before[k] for k in ("revisionHistoryLimit", "strategy")}}
    _kubectl(
        project,
        "patch",
        "deployment",
        "shop",
        "--type",
        "merge",
        "-p",
        json.dumps({"spec": broken}),
    )
    try:
        code, scenario = _drill(project, "--objective", "shop.rto=30s")
    finally:
        patch = json.dumps(restore)
        _kubectl(project, "patch", "deployment", "shop", "--type", "merge", "-p", patch)
    assert (code, scenario["verdict"]) == (1, "FAIL")
    assert "RecoveryStepMissing: kubectl rollout undo could not roll" in scenario["reason"]
    assert "no revision before" in scenario["reason"]
    outcomes = {s["name"]: s["outcome"] for s in scenario["steps"]}
    assert outcomes["Detect: a pod waits in CrashLoopBackOff"] == "ok"
    assert outcomes["Mitigate: kubectl rollout undo"] == "failed"
    assert _figures(scenario)["restored revision"]["value"] is None
    assert _figures(scenario)["user-side outage"]["value"] > 0  # Recreate: users saw it
    assert scenario["duration_s"] < 120  # failed at once, did not wait out the RTO
    assert [r["outcome"] for r in scenario["rollbacks"]] == ["done"]
    _assert_good_release_serves(project)  # the fault's rollback put the good image back


def test_drills_rollback_restores_the_image_after_a_killed_drill(project: Path) -> None:
    """What a SIGKILLed drill leaves: the bad release live and its entry pending in the ledger."""
    kubeconfig = project / ".drills" / "sandbox" / "kubeconfig"
    api = connect(kubeconfig, allowlist=Allowlist(kube_contexts=("drills-sandbox",)))
    fault = ClusterBound(
        BadRelease(KubeWorkload(api, "default", "shop"), image="shop:bad"), kubeconfig, api.context
    )
    ledger = RollbackLedger(project / ".drills" / "rollbacks.jsonl")
    ledger.record(fault.rollback_entry())
    fault.apply()  # ... and the process dies here, before any in-process rollback
    assert [e.kind for e in ledger.pending()] == ["bad-release"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "drills.cli", "--root", str(project), "rollback"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rolled back bad-release on default/deployment/shop" in " ".join(done.stdout.split())
    assert ledger.pending() == []
    _assert_good_release_serves(project)
