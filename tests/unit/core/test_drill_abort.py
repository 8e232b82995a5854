"""Unit tests for Drill.abort: the kill switch's way to stop a drill (FakeClock only)."""

import threading
from pathlib import Path

import pytest

from drills.core import waiting
from drills.core.clock import FakeClock
from drills.core.conditions import Observation
from drills.core.drill import DefaultWaits, Drill, DrillSpec
from drills.core.errors import DrillAborted
from drills.core.events import DrillEvents
from drills.core.journal import StepOutcome
from drills.core.objectives import Objective, ObjectiveKind, Verdict
from drills.core.safety import RollbackEntry, RollbackLedger


class NeverHeals:
    """A fault whose system never recovers; counts rollbacks."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.rolled_back = 0
        self.kind = "toy"
        self.target = "deployment/shop"

    def describe(self) -> str:
        return "break it for good"

    def rollback_entry(self) -> RollbackEntry:
        return RollbackEntry("toy", "deployment/shop")

    def apply(self) -> None:
        """Nothing to do: the condition below is always unhealthy after injection."""

    def rollback(self) -> None:
        self.rolled_back += 1


def _drill(clock: FakeClock, tmp_path: Path) -> Drill:
    spec = DrillSpec(
        id="abort",
        runbook="§1",
        service="shop",
        objectives=(Objective(ObjectiveKind.RTO, "shop", 900.0),),
        waits=DefaultWaits(steady_state_timeout_s=30, stability_window_s=10, poll_s=1),
    )
    ledger = RollbackLedger(tmp_path / "rollbacks.jsonl")
    return Drill(spec, clock=clock, events=DrillEvents(), ledger=ledger)


def test_abort_during_recovery_raises_runs_rollbacks_and_ends_error(tmp_path: Path) -> None:
    clock = FakeClock(start_s=0.0)
    drill = _drill(clock, tmp_path)
    fault = NeverHeals(clock)

    def unhealthy_until_kill_switch() -> Observation:
        if clock.now() >= 20.0:
            drill.abort("error ratio 0.90 above 0.50 for 15 s")
        return Observation(ok=False, detail="users failing")

    def run() -> None:
        with drill:
            drill.inject(fault)
            with drill.step("recover"):
                drill.await_recovery(unhealthy_until_kill_switch, timeout_s=600)

    with pytest.raises(DrillAborted, match=r"error ratio 0\.90 above 0\.50"):
        run()
    assert drill.record is not None
    assert drill.record.verdict is Verdict.ERROR
    assert "error ratio 0.90 above 0.50 for 15 s" in drill.record.reason
    assert fault.rolled_back == 1
    assert drill.record.steps[0].outcome is StepOutcome.ERROR
    assert clock.now() < 30.0  # stopped at the next poll, not at the timeout


def test_abort_before_steady_state_is_not_reported_as_unsteady(tmp_path: Path) -> None:
    clock = FakeClock(start_s=0.0)
    drill = _drill(clock, tmp_path)
    drill.abort("operator pressed stop")
    with pytest.raises(DrillAborted, match="operator pressed stop"), drill:
        drill.expect_steady_state(lambda: True)
    assert drill.record is not None
    assert drill.record.verdict is Verdict.ERROR


def test_a_step_after_abort_does_not_start_and_first_reason_wins(tmp_path: Path) -> None:
    clock = FakeClock(start_s=0.0)
    drill = _drill(clock, tmp_path)
    assert _reason(drill) is None
    drill.abort("first")
    drill.abort("second")
    assert _reason(drill) == "first"
    entered: list[bool] = []
    with pytest.raises(DrillAborted, match="first"), drill.step("next"):
        entered.append(True)  # never runs: the step refuses to start
    assert not entered


def _reason(drill: Drill) -> str | None:
    """Read afresh each time (a direct read would be narrowed by the type checker)."""
    return drill.abort_reason


def test_the_drills_own_wait_stops_at_the_next_poll_after_the_switch(tmp_path: Path) -> None:
    """Issue 12 item 9: a scenario's wait (detection, a spike's ramp) obeys the kill switch."""
    clock = FakeClock(start_s=0.0)
    drill = _drill(clock, tmp_path)

    def users_still_failing() -> Observation:
        if clock.now() >= 20.0:
            drill.abort("kill switch: the load generator died: Locust (standalone) exited")
        return Observation(ok=False, detail="users failing")

    with pytest.raises(DrillAborted, match="the load generator died"), drill:
        drill.wait_until(users_still_failing, timeout_s=600, raise_on_timeout=False)
    assert clock.now() == 20.0  # no sleep after the trip, let alone the 600 s timeout
    assert drill.record is not None
    assert drill.record.verdict is Verdict.ERROR
    assert "the load generator died" in drill.record.reason


def test_the_drills_own_wait_is_the_plain_wait_while_nothing_tripped(tmp_path: Path) -> None:
    clock = FakeClock(start_s=0.0)
    drill = _drill(clock, tmp_path)
    waited = drill.wait_until(lambda: clock.now() >= 30.0, timeout_s=60, stable_for_s=5)
    assert waited.met
    assert waited.elapsed_s == 35.0
    missed = drill.wait_until(lambda: False, timeout_s=10, poll_s=2, raise_on_timeout=False)
    assert not missed.met
    assert missed.polls == 6  # every 2 s, the profile's poll of 1 s overridden


def test_clean_ups_still_wait_after_an_abort(tmp_path: Path) -> None:
    """Rollbacks and deferred clean-ups run to the end, so their waits are not aborted."""
    clock = FakeClock(start_s=0.0)
    drill = _drill(clock, tmp_path)
    settled: list[bool] = []

    def settle_back() -> None:
        waited = drill.wait_until(lambda: clock.now() >= 15.0, timeout_s=60)
        settled.append(waited.met)

    drill.defer("scale back", settle_back)
    drill.abort("kill switch tripped")
    with pytest.raises(DrillAborted), drill:
        drill.raise_if_aborted()
    assert settled == [True]
    assert drill.record is not None
    assert drill.record.rollbacks == ()  # a clean-up is not a rollback, and it did not fail
    assert drill.record.verdict is Verdict.ERROR


def test_a_library_wait_on_the_drill_clock_stops_when_the_drill_is_aborted(
    tmp_path: Path,
) -> None:
    """Waits below the scenarios (a repoint, a restore) sleep on `drill.clock`: guarded too."""
    clock = FakeClock(start_s=0.0)
    drill = _drill(clock, tmp_path)
    polls = []

    def rollout_finished() -> Observation:
        polls.append(drill.clock.now())
        if len(polls) == 3:
            drill.abort("kill switch: users failing")
        return Observation(False, "rollout: 1/3 updated")

    with drill:
        with pytest.raises(DrillAborted, match="kill switch"):
            waiting.wait_until(rollout_finished, clock=drill.clock, timeout_s=600, poll_s=1)
        assert len(polls) == 3  # stopped at the next sleep, not after ten minutes
        assert drill.clock.now() < 5


def test_other_threads_and_the_rollbacks_keep_the_clock(tmp_path: Path) -> None:
    clock = FakeClock(start_s=0.0)
    drill = _drill(clock, tmp_path)
    drill.abort("tripped")
    errors: list[BaseException] = []

    def sampler() -> None:
        try:
            drill.clock.sleep(1)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=sampler)
    thread.start()
    thread.join()
    assert errors == []
    before = clock.now()
    drill.defer("clean up", lambda: drill.clock.sleep(1))
    record = drill.finish()
    assert clock.now() == before + 1  # the clean-up's sleep ran while the drill finished
    assert record.rollbacks == ()
