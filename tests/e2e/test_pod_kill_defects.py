"""`pod-kill-under-load` end to end through `drills run`: PASS when healthy, FAIL when broken.

One sandbox for the module, in a temporary project root that holds the scenario, the profiles
and the shop fixture. Each test runs the real CLI in a subprocess and reads the run's journal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.drill_cli import (
    figures,
    incident_timings,
    kubectl,
    objective,
    run_drill,
    sandboxed_project,
)
from tests.e2e.ledger_defects import (
    assert_lost_writes_named,
    delete_orders_after_step,
    tolerant_profile,
    writes_refused,
)

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    with sandboxed_project("drills-e2e-") as root:
        yield root


def _drill(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    run = run_drill(root, *args)
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
