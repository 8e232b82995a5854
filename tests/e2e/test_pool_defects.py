"""`db-pool-exhaustion` end to end through `drills run`: PASS when healthy, FAIL when broken.

One sandbox for the module, in a temporary project root that holds the scenarios, the profiles
and the shop fixture. Each test runs the real CLI in a subprocess and reads the run's journal.
The defect "the pool leak is not released" is made with the leaker's documented defect switch
(`DRILLS_POOL_LEAK_DEFECT=busy` in fixtures/pool.py): the leaked sessions are kept busy, so the
runbook's idle rule never matches them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.pool import DEFECT_BUSY, DEFECT_ENV
from tests.e2e.drill_cli import figures, objective, run_drill, sandboxed_project

DRILL = "db-pool-exhaustion"
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    with sandboxed_project("drills-e2e-pool-") as root:
        yield root


def _drill(root: Path, *args: str, defect: str = "") -> tuple[int, dict[str, Any], str]:
    run = run_drill(
        root, DRILL, *args, env={DEFECT_ENV: defect} if defect else None, unset=[DEFECT_ENV]
    )
    return run.code, run.scenario, run.output


def _no_leak_left(scenario: dict[str, Any]) -> None:
    assert scenario["rollbacks"], "the leak's rollback must be recorded"
    assert all(r["outcome"] == "done" for r in scenario["rollbacks"])


def test_healthy_sandbox_passes_with_the_runbook_figures(project: Path) -> None:
    code, scenario, output = _drill(project)
    assert (code, scenario["verdict"]) == (0, "PASS"), f"{scenario['reason']}\n{output[-3000:]}"
    rto = objective(scenario, "RTO")
    assert rto["target_s"] == 900.0
    assert 0 < rto["measured_s"] < 900.0
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    seen = figures(scenario)
    assert seen["time to saturation"]["value"] > 0
    assert seen["time to detect"]["value"] is not None
    assert seen["sessions terminated"]["value"] >= 1
    assert "drills-leak-" in seen["sessions terminated"]["detail"]
    assert seen["active sessions terminated"]["value"] == 0
    assert seen["free connection slots"]["value"] >= seen["free connection slots"]["target"]
    assert seen["acknowledged writes lost"]["value"] == 0
    steps = [s["name"] for s in scenario["steps"]]
    assert any(s.startswith("Terminate idle backends") for s in steps)
    assert all(s["outcome"] == "ok" for s in scenario["steps"])
    _no_leak_left(scenario)


def test_a_tighter_objective_turns_the_pass_into_a_fail(project: Path) -> None:
    code, scenario, output = _drill(project, "--objective", "shop.rto=1s")
    assert (code, scenario["verdict"]) == (1, "FAIL"), output[-3000:]
    rto = objective(scenario, "RTO")
    assert rto["target_s"] == 1.0
    assert rto["measured_s"] > 1.0  # the rule's age alone is longer: shown, not hidden
    assert f"{rto['measured_s']:.1f} s" in rto["detail"]
    assert "vs target 1s -> FAIL" in scenario["reason"]
    _no_leak_left(scenario)


def test_a_leak_the_idle_rule_cannot_match_fails_because_the_pool_never_drains(
    project: Path,
) -> None:
    code, scenario, output = _drill(project, "--objective", "shop.rto=15s", defect=DEFECT_BUSY)
    assert (code, scenario["verdict"]) == (1, "FAIL"), output[-3000:]
    rto = objective(scenario, "RTO")
    assert rto["measured_s"] >= 15.0
    assert "not recovered after" in rto["detail"]
    assert "the pool never drained" in rto["detail"]
    assert "new connections refused" in rto["detail"]
    assert "the pool never drained" in scenario["reason"]
    seen = figures(scenario)
    assert "drills-leak-" not in seen["sessions terminated"]["detail"]
    _no_leak_left(scenario)
