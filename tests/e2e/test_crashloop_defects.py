"""`crashloop-rollback` end to end through `drills run`: PASS when healthy, FAIL when broken.

The drill modules' shared sandbox (tests/e2e/conftest.py). Each test runs the real CLI in a
subprocess and reads the run's journal. The defect: the rollout history is lost (the
previous ReplicaSet is deleted as soon as the bad release rolls out; its pods are orphaned), so
`kubectl rollout undo` has nothing to go back to. (The upstream Deployment controller keeps the
previous ReplicaSet while a rollout is unfinished, even with `revisionHistoryLimit: 0`, so the
history has to be removed by hand.) The drill must say so and fail at once, and the fault's
own rollback must still leave the good image running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from drills.core.clock import SystemClock
from drills.core.safety import Allowlist, RollbackLedger
from drills.faults.pods import BadRelease
from drills.targets.adapters.entry_cluster import ClusterBound
from drills.targets.adapters.kube import KubeWorkload, connect
from tests.e2e.drill_cli import (
    REPO,
    figures,
    incident_timings,
    kubectl,
    objective,
    run_drill,
)
from tests.e2e.ledger_defects import assert_lost_writes_named, delete_orders_after_step

DRILL = "crashloop-rollback"
PRUNE_TIMEOUT_S = 180.0  # the bad release rolls out within seconds of the drill's fault
GOOD_IMAGE = "shop:1.0.0"  # fixtures/shop/k8s/deployment.yaml
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _drill(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    run = run_drill(root, DRILL, *args)
    return run.code, run.scenario


def _assert_good_release_serves(root: Path) -> None:
    """The shop is back on the good image with every replica rolled out."""
    kubectl(root, "rollout", "status", "deployment/shop", "--timeout=90s", timeout_s=100)
    image = kubectl(
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
    rto = objective(scenario, "RTO")
    assert rto["target_s"] == 900.0
    assert 0 < rto["measured_s"] < 900.0
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    seen = figures(scenario)
    assert seen["acknowledged writes lost"]["value"] == 0
    assert seen["acknowledged writes before the fault"]["value"] > 0  # "0 lost" of something
    detect, _, recover = incident_timings(scenario)
    assert 0 < detect <= seen["rollback issued"]["value"] <= recover
    assert seen["restored revision"]["detail"] == (
        f"template image {GOOD_IMAGE}; last good {GOOD_IMAGE}; whole template as before"
    )
    assert seen["restarts over the stability window"]["value"] == 0.0
    assert "broken build" in seen["restarts of the crashing pod"]["detail"]  # logs --previous
    assert "PodCrashLooping would fire" in seen
    assert [s["outcome"] for s in scenario["steps"]] == ["ok"] * 6
    _assert_good_release_serves(project)


@pytest.mark.extended  # the digest-to-tag rule: tests/unit; this is its run on the sandbox
def test_a_digest_pinned_release_is_drilled_with_the_repositorys_bad_tag(project: Path) -> None:
    """`shop@sha256:...` must become `shop:bad`, not the invalid `shop@sha256:bad`."""
    pinned = "shop@sha256:" + "0123456789abcdef" * 4
    kubectl(project, "set", "image", "deployment/shop", f"shop={pinned}")
    try:
        kubectl(project, "rollout", "status", "deployment/shop", "--timeout=90s", timeout_s=100)
        code, scenario = _drill(project)
    finally:
        kubectl(project, "set", "image", "deployment/shop", f"shop={GOOD_IMAGE}")
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    [fault] = scenario["faults"]
    assert fault["description"] == "roll out image shop:bad to default/deployment/shop"
    restored = figures(scenario)["restored revision"]["detail"]
    assert restored == f"template image {pinned}; last good {pinned}; whole template as before"
    _assert_good_release_serves(project)


def _revisions(project: Path) -> dict[str, tuple[int, str]]:
    """Each shop ReplicaSet's revision and image."""
    listing = json.loads(kubectl(project, "get", "rs", "-l", "app=shop", "-o", "json"))
    return {
        rs["metadata"]["name"]: (
            int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]),
            rs["spec"]["template"]["spec"]["containers"][0]["image"],
        )
        for rs in listing["items"]
    }


def _prune_history_once_bad_release_rolls_out(
    project: Path, newest_before: int, done: threading.Event
) -> None:
    """Once the bad release is the newest revision, delete every other ReplicaSet.

    An earlier drill's bad release may still be in the history (scaled to 0); rolling the same
    template out again reuses it under a new revision number, so the test watches revisions,
    not names. The deleted ReplicaSets' pods are orphaned, not killed.
    """
    clock = SystemClock()
    deadline = clock.now() + PRUNE_TIMEOUT_S
    while not done.is_set() and clock.now() < deadline:
        revisions = _revisions(project)
        newest = max(revisions, key=lambda name: revisions[name][0], default="")
        revision, image = revisions.get(newest, (0, ""))
        if revision > newest_before and image.endswith(":bad"):
            old = [name for name in revisions if name != newest]
            if old:
                kubectl(project, "delete", "rs", *old, "--cascade=orphan")
            return
        done.wait(0.2)


def _delete_orphaned_pods(project: Path) -> None:
    pods = json.loads(kubectl(project, "get", "pods", "-l", "app=shop", "-o", "json"))["items"]
    orphans = [p["metadata"]["name"] for p in pods if not p["metadata"].get("ownerReferences")]
    if orphans:
        kubectl(project, "delete", "pod", *orphans, "--wait=true", timeout_s=60)


def test_a_rollback_with_no_history_to_restore_fails_the_drill(project: Path) -> None:
    """The previous ReplicaSet is pruned once the bad release rolls out (someone cleaned up old
    ReplicaSets, or a controller with no history kept): `rollout undo` has nothing to go back to.
    Its pods are orphaned, not deleted, so users are still served by the old release."""
    done = threading.Event()
    newest_before = max((rev for rev, _ in _revisions(project).values()), default=0)
    pruner = threading.Thread(
        target=_prune_history_once_bad_release_rolls_out,
        args=(project, newest_before, done),
        daemon=True,
    )
    pruner.start()
    try:
        code, scenario = _drill(project, "--objective", "shop.rto=30s")
    finally:
        done.set()
        pruner.join(timeout=30)
        _delete_orphaned_pods(project)
    assert (code, scenario["verdict"]) == (1, "FAIL")
    assert "RecoveryStepMissing: kubectl rollout undo could not roll" in scenario["reason"]
    assert "no revision before" in scenario["reason"]
    outcomes = {s["name"]: s["outcome"] for s in scenario["steps"]}
    assert outcomes["Detect: a pod waits in CrashLoopBackOff"] == "ok"
    assert outcomes["Mitigate: kubectl rollout undo"] == "failed"
    assert figures(scenario)["restored revision"]["value"] is None
    assert scenario["duration_s"] < 120  # failed at once, did not wait out the RTO
    assert [r["outcome"] for r in scenario["rollbacks"]] == ["done"]
    _assert_good_release_serves(project)  # the fault's rollback put the good image back


@pytest.mark.extended  # the same ledger judgement: pod-kill's lost-writes test runs in make test
def test_acknowledged_writes_lost_during_the_release_fail_and_are_named(project: Path) -> None:
    lost = delete_orders_after_step(project, DRILL, "Roll out the bad release")
    assert_lost_writes_named(lost)
    _assert_good_release_serves(project)


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
    assert "bad-release default/deployment/shop: restored" in " ".join(done.stdout.split())
    assert ledger.pending() == []
    _assert_good_release_serves(project)
