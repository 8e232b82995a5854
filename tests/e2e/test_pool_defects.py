"""`db-pool-exhaustion` end to end through `drills run`: PASS when healthy, FAIL when broken.

The drill modules' shared sandbox (tests/e2e/conftest.py). Each test runs the real CLI in a
subprocess and reads the run's journal. The default variant is `idle-sessions`.
The defect "the pool leak is not released" is made with the leaker's documented defect switch
(`DRILLS_POOL_LEAK_DEFECT=busy` in fixtures/pool.py): the leaked sessions are kept busy, so the
runbook's idle rule never matches them; users still fail, so the drill resets the pools with
`rollout restart` (RUNBOOKS.md §3.5 step 3), and still fails. The defect "the server has more
slots than the leak may take" is a profile whose `[pool] max_sessions` caps the leak below the
free slots: no connection is refused, so exhaustion was not drilled (COULD_NOT_VERIFY).
The variant `app-leak` (the shop's own release leaks its pool) passes when the recovery rolls
the release back, and FAILs with `DRILLS_POOL_LEAK_DEFECT=restart-only`, where the recovery
resets the pools with `rollout restart` and leaves the leaking release in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fixtures.pool import DEFECT_BUSY, DEFECT_ENV, DEFECT_RESTART_ONLY
from tests.e2e.drill_cli import figures, incident_timings, objective, run_drill
from tests.e2e.ledger_defects import assert_lost_writes_named, delete_orders_after_step

DRILL = "db-pool-exhaustion"
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


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
    [fault] = scenario["faults"]
    landed_after_s = fault["landed_offset_s"] - fault["offset_s"]
    assert landed_after_s == pytest.approx(seen["time to saturation"]["value"])
    assert seen["rollout restarts"]["value"] == 0.0  # the shop's pool heals on its own
    incident_timings(scenario)
    assert seen["sessions terminated"]["value"] >= 1
    assert "drills-leak-" in seen["sessions terminated"]["detail"]
    assert seen["active sessions terminated"]["value"] == 0
    assert seen["free connection slots"]["value"] >= seen["free connection slots"]["target"]
    assert seen["acknowledged writes lost"]["value"] == 0
    assert seen["acknowledged writes before the fault"]["value"] > 0  # "0 lost" of something
    steps = [s["name"] for s in scenario["steps"]]
    assert any(s.startswith("Terminate idle backends") for s in steps)
    assert all(s["outcome"] == "ok" for s in scenario["steps"])
    _no_leak_left(scenario)


@pytest.mark.extended  # --objective also turns the notes pool run into its FAIL in make test
def test_a_tighter_objective_turns_the_pass_into_a_fail(project: Path) -> None:
    code, scenario, output = _drill(project, "--objective", "shop.rto=1s")
    assert (code, scenario["verdict"]) == (1, "FAIL"), output[-3000:]
    rto = objective(scenario, "RTO")
    assert rto["target_s"] == 1.0
    assert rto["measured_s"] > 1.0  # the rule's age alone is longer: shown, not hidden
    assert f"{rto['measured_s']:.1f} s" in rto["detail"]
    assert "vs target 1s -> FAIL" in scenario["reason"]
    _no_leak_left(scenario)


@pytest.mark.extended  # the same ledger judgement: pod-kill's lost-writes test runs in make test
def test_acknowledged_writes_lost_while_the_pool_is_drained_fail_and_are_named(
    project: Path,
) -> None:
    # Once the idle backends are terminated the admin DSN surely has a slot for the DELETE.
    lost = delete_orders_after_step(project, DRILL, "Terminate idle backends")
    scenario = assert_lost_writes_named(lost)
    _no_leak_left(scenario)


def test_a_leak_capped_below_the_free_slots_could_not_verify_anything(project: Path) -> None:
    sandbox = (project / "fixtures" / "environments" / "sandbox.toml").read_text()
    assert "\n[pool]\n" in sandbox
    capped = project / "capped.toml"  # 27 ordinary slots; the shop's pools hold about 15
    capped.write_text(sandbox.replace("\n[pool]\n", "\n[pool]\nmax_sessions = 5\n"))
    code, scenario, output = _drill(project, "--env", str(capped))
    assert (code, scenario["verdict"]) == (1, "COULD_NOT_VERIFY"), output[-3000:]
    assert "InjectionFailed: the leak holds 5 sessions" in scenario["reason"]
    assert f"capped by [pool] max_sessions 5 in {capped}" in scenario["reason"]
    assert "more slots than the leak may take" in scenario["reason"]
    assert scenario["objectives"] == []  # nothing was judged: no RTO, no RPO
    assert scenario["faults"] == []  # it never landed
    _no_leak_left(scenario)


@pytest.mark.extended  # the same defect against the notes service runs in make test
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
    assert seen["rollout restarts"]["value"] == 1.0  # runbook step 3 really ran
    assert "kubectl rollout restart deployment/shop" in seen["rollout restarts"]["detail"]
    _no_leak_left(scenario)


APP_LEAK_STEPS = [
    "Roll out the leaking release (HOLD_CONNECTIONS=5 HOLD_AFTER_S=20)",
    "Detect: requests wait out the pool timeout",
    "Size it: sessions by state against max_connections",
    "Sort the cause: the shop's own pools hold the sessions",
    "Reset the pools: kubectl rollout undo (the leaking release)",
]


@pytest.mark.extended  # a variant's passing run: its defect twin below runs in make test
def test_a_leak_in_the_release_passes_once_the_release_is_rolled_back(project: Path) -> None:
    code, scenario, output = _drill(project, "--variant", "app-leak")
    assert (code, scenario["verdict"]) == (0, "PASS"), f"{scenario['reason']}\n{output[-3000:]}"
    assert scenario["variant"] == "app-leak"
    steps = [s["name"] for s in scenario["steps"]]
    assert steps == [
        *APP_LEAK_STEPS,
        "Recover: kubectl rollout status until done",
        "Verify: refusals stop and users stay healthy",
    ]
    rto = objective(scenario, "RTO")
    assert 0 < rto["measured_s"] < rto["target_s"] == 900.0
    ttd, ttm, ttr = incident_timings(scenario)
    seen = figures(scenario)
    assert seen["user-side outage"]["value"] > 0  # the leak reached users: requests timed out
    free = seen["free connection slots during the leak"]
    assert free["value"] > 0  # the server had room: the pools, not the server, ran dry
    assert "HOLD_CONNECTIONS" in seen["changes of the recent release"]["detail"]
    assert "kubectl rollout undo deployment/shop" in seen["pools reset"]["detail"]
    assert seen["free connection slots"]["value"] >= seen["free connection slots"]["target"]
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    assert seen["acknowledged writes lost"]["value"] == 0
    _no_leak_left(scenario)
    print(f"app-leak: TTD {ttd:.1f} s, TTM {ttm:.1f} s, RTO {ttr:.1f} s")  # noqa: T201


def test_a_leaking_release_left_in_place_fails_for_that_reason(project: Path) -> None:
    code, scenario, output = _drill(project, "--variant", "app-leak", defect=DEFECT_RESTART_ONLY)
    assert (code, scenario["verdict"]) == (1, "FAIL"), output[-3000:]
    assert (
        "the leaking release is still in place: HOLD_CONNECTIONS=5 HOLD_AFTER_S=20 still set on "
        "deployment/shop's pod template" in scenario["reason"]
    )
    assert [s["name"] for s in scenario["steps"]] == APP_LEAK_STEPS
    assert scenario["steps"][-1]["outcome"] == "failed"
    assert "kubectl rollout restart deployment/shop" in figures(scenario)["pools reset"]["detail"]
    _no_leak_left(scenario)  # the release's rollback put the settings back
    print(f"app-leak, restart only: {scenario['reason']}")  # noqa: T201
