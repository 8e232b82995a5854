"""`pod-kill-under-load` end to end through `drills run`: PASS when healthy, FAIL when broken.

The drill modules' shared sandbox (tests/e2e/conftest.py). Each test runs the real CLI in a
subprocess and reads the run's journal. The default variant `half` is drilled healthy and
broken several ways; of the full-outage variants, `zero` (the Deployment scaled to 0 by
mistake) runs healthy, and broken with the documented defect switch of fixtures/pod_kill.py
(`DRILLS_POD_KILL_DEFECT=wrong-count`: the recovery scales back to 1 replica, not the recorded
3), which must FAIL for that reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fixtures.pod_kill import DEFECT_ENV, DEFECT_WRONG_COUNT
from tests.e2e.drill_cli import (
    figures,
    incident_timings,
    kubectl,
    objective,
    run_drill,
)
from tests.e2e.ledger_defects import (
    assert_lost_writes_named,
    delete_orders_after_step,
    tolerant_profile,
    writes_refused,
)

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _drill(root: Path, *args: str, defect: str = "") -> tuple[int, dict[str, Any]]:
    run = run_drill(root, *args, env={DEFECT_ENV: defect} if defect else None, unset=[DEFECT_ENV])
    return run.code, run.scenario


def _rto(scenario: dict[str, Any]) -> dict[str, Any]:
    return objective(scenario, "RTO")


def test_healthy_sandbox_passes_with_every_figure(project: Path) -> None:
    code, scenario = _drill(project, "pod-kill-under-load")
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    rto = _rto(scenario)
    assert rto["target_s"] == 900.0
    assert 0 < rto["measured_s"] < 900.0
    seen = figures(scenario)
    assert {"serving path back", "user-side outage"} <= set(seen)
    incident_timings(scenario)
    budget = seen["error ratio after the fault"]
    assert budget["target"] == 0.01  # [thresholds] error_budget, RUNBOOKS.md §3.2
    assert budget["value"] <= budget["target"]
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    assert seen["acknowledged writes lost"]["value"] == 0
    assert seen["acknowledged writes before the fault"]["value"] > 0  # "0 lost" of something


def test_a_tighter_objective_turns_the_pass_into_a_fail(project: Path) -> None:
    code, scenario = _drill(project, "pod-kill-under-load", "--objective", "shop.rto=2s")
    assert (code, scenario["verdict"]) == (1, "FAIL")
    rto = _rto(scenario)
    assert rto["target_s"] == 2.0
    assert rto["measured_s"] > 2.0  # the stability window alone is longer: shown, not hidden
    assert "vs target 2s -> FAIL" in scenario["reason"]


def test_replacements_that_cannot_schedule_fail_the_drill(project: Path) -> None:
    nodes = [f"sandbox-node-{n}" for n in (1, 2, 3)]
    for node in nodes:  # no room anywhere: the ReplicaSet's replacement stays Pending
        kubectl(project, "cordon", node)
    try:
        code, scenario = _drill(project, "pod-kill-under-load", "--objective", "shop.rto=20s")
    finally:
        for node in nodes:
            kubectl(project, "uncordon", node)
    assert (code, scenario["verdict"]) == (1, "FAIL")
    rto = _rto(scenario)
    assert rto["measured_s"] >= 20.0
    assert "not recovered after" in rto["detail"]
    assert "2/3 pods ready" in rto["detail"]
    assert scenario["rollbacks"]
    assert all(r["outcome"] == "done" for r in scenario["rollbacks"])


def test_acknowledged_writes_lost_behind_the_shops_back_fail_and_are_named(project: Path) -> None:
    lost = delete_orders_after_step(project, "pod-kill-under-load", "Kill half the pods")
    scenario = assert_lost_writes_named(lost)
    assert "this fault touches no data, so none may be lost" in scenario["reason"]
    seen = figures(scenario)
    assert seen["acknowledged writes lost"]["target"] == 0


def test_a_load_that_never_gets_a_write_acknowledged_cannot_verify_the_rpo(project: Path) -> None:
    env = tolerant_profile(project, "writes-refused", error_ratio=0.5)
    with writes_refused(project):  # every POST /orders is refused: nothing is acknowledged
        code, scenario = _drill(project, "pod-kill-under-load", "--env", env)
    print(f"writes refused: {scenario['verdict']}: {scenario['reason']}")  # noqa: T201
    assert (code, scenario["verdict"]) == (1, "COULD_NOT_VERIFY"), scenario["reason"]
    rpo = objective(scenario, "RPO")
    assert (rpo["verdict"], rpo["measured_s"]) == ("COULD_NOT_VERIFY", None)
    assert "no write was acknowledged before the fault" in scenario["reason"]
    assert objective(scenario, "RTO")["verdict"] == "PASS"  # the rest of the drill went fine
    assert figures(scenario)["acknowledged writes"]["value"] == 0


@pytest.mark.extended  # a variant's passing run: its defect twin below runs in make test
def test_zero_replicas_scaled_back_to_the_recorded_count_pass_as_a_full_outage(
    project: Path,
) -> None:
    code, scenario = _drill(project, "pod-kill-under-load", "--variant", "zero")
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    assert scenario["variant"] == "zero"
    steps = [s["name"] for s in scenario["steps"]]
    assert steps == [
        "Scale to zero (the emergency shutdown, by mistake)",
        "Assess: the Deployment asks for 0 replicas",
        "Serving path: no endpoint listed",
        "Capacity back: kubectl scale deployment/shop --replicas=3",
        "Verify: replicas back, health and error ratio hold",
    ]
    rto = _rto(scenario)
    assert 0 < rto["measured_s"] < rto["target_s"] == 900.0
    ttd, _, ttr = incident_timings(scenario)
    seen = figures(scenario)
    assert seen["replicas asked for"]["value"] == seen["replicas asked for"]["target"] == 3
    assert seen["first replica ready"]["value"] <= seen["serving path back"]["value"] <= ttr
    assert seen["user-side outage"]["value"] > 0  # a full outage: users failed meanwhile
    assert seen["error ratio after the fault"]["target"] is None  # no budget for an outage
    assert "not in an error budget" in seen["error ratio after the fault"]["no_target"]
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    assert seen["acknowledged writes lost"]["value"] == 0
    [rollback] = scenario["rollbacks"]
    assert rollback["outcome"] == "done"
    print(f"zero: TTD {ttd:.1f} s, RTO {rto['measured_s']:.1f} s")  # noqa: T201


def test_zero_replicas_scaled_back_to_a_wrong_count_fail_for_that_reason(project: Path) -> None:
    code, scenario = _drill(
        project, "pod-kill-under-load", "--variant", "zero", defect=DEFECT_WRONG_COUNT
    )
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    assert (
        "the recovery scaled deployment/shop to 1 replicas, not the 3 recorded before the fault"
        in scenario["reason"]
    )
    failed = [s for s in scenario["steps"] if s["outcome"] == "failed"]
    assert [s["name"] for s in failed] == [
        "Capacity back: kubectl scale deployment/shop --replicas=3"
    ]
    asked = figures(scenario)["replicas asked for"]
    assert (asked["value"], asked["target"]) == (1, 3)
    [rollback] = scenario["rollbacks"]  # the fault's rollback put the 3 replicas back
    assert rollback["outcome"] == "done"
    print(f"zero, wrong count: {scenario['reason']}")  # noqa: T201
