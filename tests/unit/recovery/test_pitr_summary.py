"""The printed PITR summary and the PITR judgement, on fixed figures."""

from __future__ import annotations

from drills.core.dataloss import AcknowledgedWrite, LedgerVerification, compare_ledger
from drills.core.objectives import Objective, ObjectiveKind, Verdict
from drills.recovery.pitr import PitrResult, judge_pitr, pitr_summary
from drills.targets.ports.data import PitrOutcome, RecoveryRequest

RPO = Objective(ObjectiveKind.RPO, "database", 900.0)
WRITES = [AcknowledgedWrite(f"k{i}", float(i), f"h{i}") for i in range(10)]


class Db:
    name = "restored"


def _outcome(*, reached: bool = True) -> PitrOutcome:
    return PitrOutcome(
        database=Db(),  # type: ignore[arg-type]
        requested=RecoveryRequest(name="before-drop"),
        requested_wall_iso="2026-01-01T00:00:10Z",
        reached_wall_iso="2026-01-01T00:00:09.5+00:00",
        reached_lsn="0/B5D908",
        timeline=2,
        duration_s=1.5,
        log_excerpt="",
        target_reached=reached,
    )


def _ledger(present_upto: int) -> LedgerVerification:
    present = {f"k{i}": (f"h{i}", 1) for i in range(present_upto)}
    return LedgerVerification(compare_ledger(WRITES, present, fault_at_s=9.5), None, 20, 0.01)


def test_summary_prints_requested_reached_lost_and_rpo() -> None:
    text = pitr_summary(_outcome(), _ledger(8))
    assert "restore point 'before-drop' at 2026-01-01T00:00:10Z" in text
    assert "2026-01-01T00:00:09.5+00:00" in text
    assert "reached - requested: -0.500 s" in text
    assert "lost            : 2 (2 missing" in text
    assert "measured RPO    : 1.500 s" in text  # oldest lost (8.0) .. the fault (9.5)


def test_judgement_fails_when_writes_before_the_point_are_lost() -> None:
    good = judge_pitr(PitrResult(_outcome(), _ledger(9)), writes=WRITES, point_at_s=9.0, rpo=RPO)
    assert good.verdict is Verdict.PASS
    bad = judge_pitr(
        PitrResult(_outcome(reached=False), _ledger(5)), writes=WRITES, point_at_s=9.0, rpo=RPO
    )
    assert bad.verdict is Verdict.FAIL
    assert bad.lost_before_point == ("k5", "k6", "k7", "k8")
    assert any("not reached" in reason for reason in bad.reasons)


def test_unreadable_ledger_is_could_not_verify() -> None:
    ledger = LedgerVerification(None, "orders table unreadable", 0, 0.0)
    judged = judge_pitr(PitrResult(_outcome(), ledger), writes=WRITES, point_at_s=9.0, rpo=RPO)
    assert judged.verdict is Verdict.COULD_NOT_VERIFY
    assert "COULD NOT VERIFY" in pitr_summary(_outcome(), ledger)


def test_a_ledger_with_nothing_before_the_fault_is_could_not_verify() -> None:
    late = [AcknowledgedWrite("late", 20.0, "h")]
    empty = LedgerVerification(compare_ledger(late, {}, fault_at_s=9.5), None, 1, 0.01)
    judged = judge_pitr(PitrResult(_outcome(), empty), writes=late, point_at_s=9.0, rpo=RPO)
    assert judged.verdict is Verdict.COULD_NOT_VERIFY
    assert "measured RPO    : COULD NOT VERIFY (no write was acknowledged" in pitr_summary(
        _outcome(), empty
    )
