from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drills.core.clock import FakeClock
from drills.core.drill import DefaultWaits, Drill, DrillSpec, DryRunHalt
from drills.core.errors import (
    CouldNotVerify,
    DrillError,
    InjectionFailed,
    RtoBreached,
    SteadyStateNotMet,
)
from drills.core.events import DrillEvents
from drills.core.journal import DrillRecord, StepOutcome
from drills.core.objectives import Objective, ObjectiveKind, Verdict
from drills.core.safety import RollbackEntry, RollbackLedger

OBJECTIVES = (
    Objective(ObjectiveKind.RTO, "shop", 900.0),
    Objective(ObjectiveKind.RPO, "shop", 300.0),
)


@dataclass
class ToyFault:
    """Breaks a flag; the world heals itself `heal_after_s` later (or never)."""

    clock: FakeClock
    heal_after_s: float | None = 5.0
    kind: str = "toy"
    target: str = "deployment/shop"
    broken_at: float | None = None
    rolled_back: int = 0
    fail_apply: bool = False
    fail_rollback: bool = False
    apply_takes_s: float = 0.0
    not_in_effect: bool = False
    entry: RollbackEntry = field(default_factory=lambda: RollbackEntry("toy", "deployment/shop"))

    def describe(self) -> str:
        return "break the toy"

    def rollback_entry(self) -> RollbackEntry:
        return self.entry

    def apply(self) -> None:
        if self.fail_apply:
            raise RuntimeError("API said no")
        self.clock.sleep(self.apply_takes_s)  # e.g. filling a pool: users already suffer
        if self.not_in_effect:
            raise InjectionFailed("the toy did not break: no request was refused")
        self.broken_at = self.clock.now()

    def rollback(self) -> None:
        self.rolled_back += 1
        if self.fail_rollback:
            raise RuntimeError("could not undo")

    def healthy(self) -> bool:
        if self.broken_at is None:
            return True
        return (
            self.heal_after_s is not None and self.clock.now() >= self.broken_at + self.heal_after_s
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start_s=0.0)


@pytest.fixture
def ledger(tmp_path: Path) -> RollbackLedger:
    return RollbackLedger(tmp_path / "rollbacks.jsonl")


def _drill(clock: FakeClock, ledger: RollbackLedger, **spec: object) -> Drill:
    base = {
        "id": "toy",
        "runbook": "§3.2",
        "service": "shop",
        "objectives": OBJECTIVES,
        "waits": DefaultWaits(steady_state_timeout_s=30, stability_window_s=10, poll_s=1),
    }
    return Drill(DrillSpec(**{**base, **spec}), clock=clock, events=DrillEvents(), ledger=ledger)  # type: ignore[arg-type]


def _run(drill: Drill, fault: ToyFault, *, recover_timeout_s: float = 1800) -> DrillRecord:
    with drill:
        drill.expect_steady_state(fault.healthy)
        with drill.step("inject"):
            drill.inject(fault)
        with drill.step("recover"):
            drill.await_recovery(fault.healthy, timeout_s=recover_timeout_s)
        drill.assert_rto()
    assert drill.record is not None
    return drill.record


def test_recovery_inside_the_rto_passes_with_exact_figures(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    fault = ToyFault(clock, heal_after_s=5)
    record = _run(_drill(clock, ledger), fault)
    assert record.verdict is Verdict.PASS
    [rto] = record.objectives
    assert (rto.measured_s, rto.target_s) == (15.0, 900.0)  # 5 s to heal + 10 s stability window
    assert [s.name for s in record.steps] == ["inject", "recover"]
    assert record.steps[1].duration_s == 15.0
    assert fault.rolled_back == 1
    assert ledger.pending() == []
    assert record.rollbacks[0].outcome == "done"


def test_slow_recovery_fails_and_shows_target_vs_measured(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    fault = ToyFault(clock, heal_after_s=1000)
    drill = _drill(clock, ledger)
    with pytest.raises(RtoBreached, match=r"measured 16m50s vs target 15m -> FAIL"):
        _run(drill, fault)
    assert drill.record is not None
    assert drill.record.verdict is Verdict.FAIL
    assert fault.rolled_back == 1


def test_never_recovering_fails_once_the_wait_outlasts_the_target(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    fault = ToyFault(clock, heal_after_s=None)
    drill = _drill(clock, ledger)
    with pytest.raises(RtoBreached, match=r"not recovered after 1000\.0 s"):
        _run(drill, fault, recover_timeout_s=1000)
    assert drill.record is not None
    assert drill.record.verdict is Verdict.FAIL
    assert drill.record.objectives[0].measured_s == 1000.0
    assert drill.record.steps[-1].outcome is StepOutcome.FAILED


def test_healthy_but_not_for_the_whole_window_says_so(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    fault = ToyFault(clock, heal_after_s=995)  # heals 5 s before the wait ends: window is 10 s
    drill = _drill(clock, ledger)
    with pytest.raises(RtoBreached, match=r"healthy again, not yet for the whole stability window"):
        _run(drill, fault, recover_timeout_s=1000)


def test_giving_up_before_the_target_could_not_verify(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    drill = _drill(clock, ledger)
    with pytest.raises(CouldNotVerify, match="before the target"):
        _run(drill, ToyFault(clock, heal_after_s=None), recover_timeout_s=60)
    assert drill.record is not None
    assert drill.record.verdict is Verdict.COULD_NOT_VERIFY
    assert drill.record.objectives[0].measured_s is None


def test_unhealthy_before_the_fault_could_not_verify(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    drill = _drill(clock, ledger)
    fault = ToyFault(clock)

    def body() -> None:
        with drill:
            drill.expect_steady_state(lambda: False)
            drill.inject(fault)

    with pytest.raises(SteadyStateNotMet):
        body()
    assert drill.record is not None
    assert drill.record.verdict is Verdict.COULD_NOT_VERIFY
    assert fault.broken_at is None  # never injected


def test_no_objective_judged_is_not_a_pass(clock: FakeClock, ledger: RollbackLedger) -> None:
    drill = _drill(clock, ledger)
    with drill:
        drill.inject(ToyFault(clock))
    assert drill.record is not None
    assert drill.record.verdict is Verdict.COULD_NOT_VERIFY
    assert "no objective" in drill.record.reason


@pytest.mark.parametrize("interrupt", [RuntimeError("boom"), KeyboardInterrupt()])
def test_rollback_runs_after_an_exception_or_ctrl_c(
    clock: FakeClock, ledger: RollbackLedger, interrupt: BaseException
) -> None:
    fault = ToyFault(clock)
    drill = _drill(clock, ledger)

    def body() -> None:
        with drill:
            drill.inject(fault)
            raise interrupt

    with pytest.raises(type(interrupt)):
        body()
    assert fault.rolled_back == 1
    assert ledger.pending() == []
    assert drill.record is not None
    assert drill.record.verdict is Verdict.ERROR


def test_rollback_is_on_disk_before_the_fault_acts(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    fault = ToyFault(clock)
    seen_pending: list[int] = []
    original_apply = fault.apply

    def apply_and_look() -> None:
        seen_pending.append(len(ledger.pending()))
        original_apply()

    fault.apply = apply_and_look  # type: ignore[method-assign]
    with _drill(clock, ledger) as drill:
        drill.inject(fault)
    assert seen_pending == [1]
    assert ledger.pending() == []  # and marked done once the drill rolled back


def test_broken_injection_is_an_error_and_still_rolls_back(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    fault = ToyFault(clock, fail_apply=True)
    drill = _drill(clock, ledger)
    with pytest.raises(DrillError, match="API said no"), drill:
        drill.inject(fault)
    assert fault.rolled_back == 1  # a half-applied fault is undone too
    assert drill.record is not None
    assert drill.record.verdict is Verdict.ERROR


def test_a_fault_that_did_not_take_effect_could_not_be_verified(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    fault = ToyFault(clock, not_in_effect=True)
    drill = _drill(clock, ledger)
    with pytest.raises(InjectionFailed), drill:
        drill.inject(fault)
    assert fault.rolled_back == 1
    assert drill.record is not None
    assert drill.record.verdict is Verdict.COULD_NOT_VERIFY
    assert "no request was refused" in drill.record.reason


def test_the_rto_clock_starts_before_apply_and_both_moments_are_recorded(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    fault = ToyFault(clock, heal_after_s=5, apply_takes_s=7)  # 7 s to land, 5 s more to heal
    drill = _drill(clock, ledger)
    record = _run(drill, fault)  # steady state first holds for the 10 s window
    assert (drill.fault_at_s, drill.fault_landed_at_s) == (10.0, 17.0)
    [injected] = record.faults
    assert (injected.offset_s, injected.landed_offset_s) == (10.0, 17.0)
    assert injected.injected_at < injected.landed_at  # ISO-8601 UTC sorts by time
    [rto] = record.objectives
    assert rto.measured_s == 22.0  # 7 s landing + 5 s to heal + 10 s stability window


def test_failed_rollback_is_an_error_and_stays_pending(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    fault = ToyFault(clock, heal_after_s=1, fail_rollback=True)
    record = _run(_drill(clock, ledger), fault)
    assert record.verdict is Verdict.ERROR
    assert "drills rollback" in record.reason
    assert [e.entry_id for e in ledger.pending()] == [fault.entry.entry_id]
    assert record.rollbacks[0].outcome == "failed"


def test_dry_run_prints_the_plan_and_acts_on_nothing(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    said: list[str] = []
    spec = DrillSpec("toy", "§3.2", "shop", objectives=OBJECTIVES, dry_run=True)
    drill = Drill(spec, clock=clock, events=DrillEvents(), ledger=ledger, say=said.append)
    fault = ToyFault(clock)
    with drill:
        drill.inject(fault)
        pytest.fail("a dry run must stop at the first injection")
    assert fault.broken_at is None
    assert fault.rolled_back == 0
    assert ledger.pending() == []
    assert not ledger.path.exists()
    assert said[0] == "[dry-run] would inject: break the toy"
    assert said[1].startswith("[dry-run] rollback: toy on deployment/shop")
    assert drill.record is not None
    assert drill.record.verdict is Verdict.COULD_NOT_VERIFY
    assert drill.record.faults[0].dry_run


def test_figures_are_recorded_relative_to_the_fault(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    with _drill(clock, ledger) as drill:
        drill.inject(ToyFault(clock))
        clock.advance(3)
        drill.record_since_fault("serving path back", target_s=300)
    assert drill.record is not None
    figure = drill.record.figures[0]
    assert (figure.name, figure.value, figure.target, figure.unit) == (
        "serving path back",
        3.0,
        300,
        "s",
    )


def test_missing_objective_says_how_to_add_it(clock: FakeClock, ledger: RollbackLedger) -> None:
    drill = _drill(clock, ledger, objectives=())
    with pytest.raises(CouldNotVerify, match=r"--objective shop\.rto=15m"), drill:
        drill.assert_rto()


def test_a_failing_listener_marks_the_report_incomplete(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    drill = _drill(clock, ledger)

    def broken(_: object) -> None:
        raise ValueError("reporter bug")

    drill.events.step_finished.add_listener(broken)
    fault = ToyFault(clock, heal_after_s=1)
    record = _run(drill, fault)
    assert record.verdict is Verdict.PASS
    assert record.report_incomplete
    assert fault.rolled_back == 1


def test_dry_run_halt_is_swallowed_only_by_the_drill(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    assert issubclass(DryRunHalt, Exception)
    drill = _drill(clock, ledger, dry_run=True)
    with drill:
        drill.inject(ToyFault(clock))
    assert drill.record is not None
    assert drill.record.faults[0].dry_run


def test_samples_are_published_relative_to_the_drill_start(
    clock: FakeClock, ledger: RollbackLedger
) -> None:
    drill = _drill(clock, ledger)
    seen: list[tuple[str, float, float]] = []
    drill.events.samples_recorded.add_listener(
        lambda batch: seen.extend((s.series, s.offset_s, s.value) for s in batch)
    )
    drill.record_samples("replicas ready", [(clock.now() + 1, 3.0), (clock.now() + 2, 2.0)])
    drill.record_samples("empty", [])
    assert seen == [("replicas ready", 1.0, 3.0), ("replicas ready", 2.0, 2.0)]


def test_rto_target_is_the_recovery_budget(clock: FakeClock, ledger: RollbackLedger) -> None:
    drill = _drill(clock, ledger)
    assert drill.rto_target_s() == 900.0
    with pytest.raises(CouldNotVerify, match="database"):
        drill.rto_target_s("database")
