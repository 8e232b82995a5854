"""TTD/TTM/TTR: one meaning each, recorded by every drill (issue 12 item 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.core.clock import FakeClock
from drills.core.drill import DefaultWaits, Drill, DrillSpec
from drills.core.errors import DrillError, RtoBreached
from drills.core.events import DrillEvents
from drills.core.incident import Milestone, PhaseBudgets, time_to_mitigate
from drills.core.journal import DrillRecord, Figure
from drills.core.objectives import Objective, ObjectiveKind
from drills.core.profile import load_profile
from drills.core.safety import RollbackEntry, RollbackLedger

ENVIRONMENTS = Path(__file__).resolve().parents[3] / "fixtures" / "environments"
RTO = Objective(ObjectiveKind.RTO, "shop", 900.0)


class Flip:
    """A fault that breaks a flag and heals `heal_after_s` later on the fake clock."""

    kind, target = "flip", "deployment/shop"

    def __init__(self, clock: FakeClock, heal_after_s: float) -> None:
        self.clock, self.heal_after_s, self.broken_at = clock, heal_after_s, -1.0

    def describe(self) -> str:
        return "flip the flag"

    def rollback_entry(self) -> RollbackEntry:
        return RollbackEntry("flip", self.target)

    def apply(self) -> None:
        self.broken_at = self.clock.now()

    def rollback(self) -> None:
        return None

    def healthy(self) -> bool:
        return self.broken_at < 0 or self.clock.now() >= self.broken_at + self.heal_after_s


def _drill(clock: FakeClock, tmp_path: Path, **spec: object) -> Drill:
    fields: dict[str, object] = {
        "id": "toy",
        "runbook": "§3.2",
        "service": "shop",
        "objectives": (RTO,),
        "waits": DefaultWaits(steady_state_timeout_s=30, stability_window_s=10, poll_s=1),
        "phases": PhaseBudgets(detect_s=300, mitigate_s=900),
    }
    fields.update(spec)
    return Drill(
        DrillSpec(**fields),  # type: ignore[arg-type]
        clock=clock,
        events=DrillEvents(),
        ledger=RollbackLedger(tmp_path / "rollbacks.jsonl"),
    )


def _figures(record: DrillRecord | None) -> dict[str, Figure]:
    assert record is not None
    return {f.name: f for f in record.figures}


def test_a_recovered_drill_records_the_three_timings_against_their_targets(
    tmp_path: Path,
) -> None:
    clock = FakeClock(start_s=0.0)
    fault = Flip(clock, heal_after_s=5.0)
    with _drill(clock, tmp_path) as drill:
        drill.inject(fault)
        clock.advance(2)
        drill.record_detected("a replica missing")
        drill.record_mitigated(4.0, "last failed user request")
        drill.await_recovery(fault.healthy, timeout_s=100)
        drill.assert_rto()
    figures = _figures(drill.record)
    ttd, ttm, ttr = (figures[m.value] for m in Milestone)
    assert (ttd.value, ttd.target) == (2.0, 300)
    assert ttd.detail.startswith("injection until the alert condition holds; a replica")
    assert (ttm.value, ttm.target) == (4.0, 900)
    assert ttr.target == 900.0
    assert ttr.value is not None
    assert ttr.value >= 15.0  # healed at 5 s, then 10 s stable
    assert "recovered (stable)" not in figures  # one name for recovery: TTR


def test_a_drill_ending_early_still_records_each_timing_with_the_reason(tmp_path: Path) -> None:
    clock = FakeClock(start_s=0.0)
    drill = _drill(clock, tmp_path)

    def broken_drill() -> None:
        with drill:
            drill.inject(Flip(clock, heal_after_s=5.0))
            raise RuntimeError("the API went away")

    with pytest.raises(RuntimeError):
        broken_drill()
    figures = _figures(drill.record)
    for milestone in Milestone:
        figure = figures[milestone.value]
        assert figure.value is None
        assert "the drill ended first (RuntimeError: the API went away)" in figure.detail
    assert figures[Milestone.TTR.value].target == 900.0


def test_no_timing_is_invented_without_a_fault(tmp_path: Path) -> None:
    clock = FakeClock(start_s=0.0)
    with _drill(clock, tmp_path) as drill:
        pass
    assert drill.record is not None
    assert drill.record.figures == ()


def test_a_timing_is_recorded_once(tmp_path: Path) -> None:
    clock = FakeClock(start_s=0.0)
    with _drill(clock, tmp_path) as drill:
        drill.inject(Flip(clock, heal_after_s=5.0))
        drill.record_detected()
        with pytest.raises(DrillError, match="recorded once"):
            drill.record_detected()


def test_an_unrecovered_drill_records_ttr_without_a_value(tmp_path: Path) -> None:
    clock = FakeClock(start_s=0.0)
    fault = Flip(clock, heal_after_s=10_000.0)
    with _drill(clock, tmp_path) as drill:
        drill.inject(fault)
        with pytest.raises(RtoBreached):
            drill.await_recovery(fault.healthy, timeout_s=1000)
    ttr = _figures(drill.record)[Milestone.TTR.value]
    assert ttr.value is None
    assert "not recovered after" in ttr.detail


def test_an_intermediate_milestone_says_why_it_has_no_target(tmp_path: Path) -> None:
    clock = FakeClock(start_s=0.0)
    fault = Flip(clock, heal_after_s=1.0)
    with _drill(clock, tmp_path) as drill:
        drill.inject(fault)
        drill.await_recovery(fault.healthy, timeout_s=60, stable_for_s=0, milestone="serving")
    serving = _figures(drill.record)["serving"]
    assert serving.target is None
    assert "TTR is the recovery judged against the RTO" in serving.no_target


# -- TTM from the user-side stream ----------------------------------------------------------------
def test_ttm_is_the_last_failure_followed_by_a_served_request() -> None:
    requests = [(9.0, False), (10.5, False), (11.0, True), (12.0, False), (13.0, True)]
    measured = time_to_mitigate(10.0, requests, end_s=20.0)
    assert measured.value_s == 2.0
    assert "2 of 4 requests failed" in measured.detail


def test_ttm_is_zero_when_no_user_failed() -> None:
    measured = time_to_mitigate(10.0, [(11.0, True), (12.0, True)], end_s=20.0)
    assert measured.value_s == 0.0
    assert "no user request failed" in measured.detail


def test_ttm_has_no_value_while_users_still_fail() -> None:
    measured = time_to_mitigate(10.0, [(11.0, True), (12.0, False)], end_s=20.0)
    assert measured.value_s is None
    assert "still failing" in measured.detail


def test_ttm_has_no_value_without_traffic() -> None:
    measured = time_to_mitigate(10.0, [(1.0, False)], end_s=20.0)
    assert measured.value_s is None
    assert "no user request completed after the fault" in measured.detail


@given(
    st.lists(st.tuples(st.floats(0, 100), st.booleans()), max_size=50),
    st.floats(0, 100),
)
def test_ttm_lies_between_the_fault_and_the_end(
    raw: list[tuple[float, bool]], fault_at_s: float
) -> None:
    requests = sorted(raw)
    end_s = fault_at_s + 30
    measured = time_to_mitigate(fault_at_s, requests, end_s)
    if measured.value_s is not None:
        assert 0.0 <= measured.value_s <= end_s - fault_at_s


# -- the profile -------------------------------------------------------------------------------
def test_phase_budgets_default_to_the_runbook_template(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("", encoding="utf-8")
    profile = load_profile(path)
    assert profile.phases == PhaseBudgets(detect_s=300.0, mitigate_s=900.0, resolve_s=3600.0)
    assert profile.thresholds.error_budget == 0.01


def test_phase_budgets_and_error_budget_are_read(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[phases]\ndetect = "2m"\nmitigate = "10m"\n[thresholds]\nerror_budget = 0.002\n',
        encoding="utf-8",
    )
    profile = load_profile(path)
    assert profile.phases == PhaseBudgets(detect_s=120.0, mitigate_s=600.0)
    assert profile.thresholds.error_budget == 0.002


def test_a_zero_phase_budget_says_what_to_write(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[phases]\ndetect = "0s"\n', encoding="utf-8")
    with pytest.raises(Exception, match=r'detect = "5m"'):
        load_profile(path)


@pytest.mark.parametrize("name", ["sandbox", "containers", "staging.example"])
def test_shipped_profiles_set_the_phase_budgets(name: str) -> None:
    profile = load_profile(ENVIRONMENTS / f"{name}.toml")
    assert profile.phases == PhaseBudgets(detect_s=300.0, mitigate_s=900.0, resolve_s=3600.0)


def test_the_certification_table_is_read_with_durations(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[certification]\nquiz_pass_mark = 0.9\nack_within = "2m"\n'
        'escalation_marks = ["10m", "20m", "40m"]\n[phases]\nresolve = "30m"\n',
        encoding="utf-8",
    )
    profile = load_profile(path)
    assert profile.certification.quiz_pass_mark == 0.9
    assert profile.certification.ack_within_s == 120.0
    assert profile.certification.escalation_marks_s == (600.0, 1200.0, 2400.0)
    assert profile.phases.resolve_s == 1800.0


def test_a_bad_certification_value_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[certification]\nquiz_questions = 0\n", encoding="utf-8")
    with pytest.raises(Exception, match="quiz_questions"):
        load_profile(path)
