"""Runbook recovery `pitr` (RUNBOOKS §3.7): point-in-time recovery and replica promotion.

`recover_to_point()` restores a base backup and replays the WAL archive to the requested point
into a new instance, then compares the write ledger with it. `pitr_summary()` is the one printed
summary (requested vs reached recovery point, acknowledged writes lost, measured RPO) that drills
and tests both show. `promote_replica()` reads the replication lag as step 4 does, then promotes;
`confirm_promotion()` checks a recovered instance really is a primary that takes writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from drills.core.clock import DrillClock
from drills.core.dataloss import (
    AcknowledgedWrite,
    LedgerVerification,
    judge_rpo,
    verify_ledger,
)
from drills.core.errors import DrillError, RecoveryStepMissing
from drills.core.objectives import Objective, ObjectiveResult, Verdict, evaluate
from drills.targets.ports.data import (
    Database,
    PitrOutcome,
    PointInTimeRecovery,
    RecoveryRequest,
    RecoveryStatus,
)

__all__ = [
    "PitrJudgement",
    "PitrResult",
    "Promotion",
    "PromotionCheck",
    "confirm_promotion",
    "judge_pitr",
    "pitr_summary",
    "promote_replica",
    "recover_to_point",
]


@dataclass(frozen=True)
class PitrResult:
    """A point-in-time recovery and the ledger's verdict on it."""

    outcome: PitrOutcome
    ledger: LedgerVerification

    @property
    def summary(self) -> str:
        """The printed summary."""
        return pitr_summary(self.outcome, self.ledger)


def recover_to_point(  # noqa: PLR0913 - keyword-only inputs of one recovery
    pitr: PointInTimeRecovery,
    backup_id: str,
    request: RecoveryRequest,
    *,
    new_name: str,
    writes: Iterable[AcknowledgedWrite],
    fault_at_s: float,
    clock: DrillClock,
) -> PitrResult:
    """Recover into `new_name` and verify the acknowledged writes against it."""
    outcome = pitr.recover(backup_id, request, new_name=new_name)
    ledger = verify_ledger(writes, outcome.database, fault_at_s=fault_at_s, clock=clock)
    return PitrResult(outcome=outcome, ledger=ledger)


def pitr_summary(outcome: PitrOutcome, ledger: LedgerVerification) -> str:
    """Requested vs reached recovery point, acknowledged writes lost, measured RPO."""
    lines = [
        f"PITR into {outcome.database.name} (timeline {outcome.timeline}) "
        f"in {outcome.duration_s:.2f} s",
        f"  requested point : {outcome.requested.describe()}"
        + (
            f" at {outcome.requested_wall_iso}"
            if outcome.requested_wall_iso
            and outcome.requested_wall_iso != outcome.requested.time_iso
            else ""
        ),
        f"  reached point   : {outcome.reached_wall_iso or 'unknown'}"
        f" (redo done at LSN {outcome.reached_lsn or 'unknown'})"
        + ("" if outcome.target_reached else "  TARGET NOT REACHED: archive ended earlier"),
    ]
    gap = _gap_s(outcome.requested_wall_iso, outcome.reached_wall_iso)
    if gap is not None:
        lines.append(f"  reached - requested: {gap:+.3f} s")
    report = ledger.report
    if report is None:
        lines.append(f"  ledger          : COULD NOT VERIFY ({ledger.error})")
        return "\n".join(lines)
    lines += [
        f"  acknowledged    : {report.acknowledged} writes in the ledger",
        f"  lost            : {report.lost} ({len(report.missing)} missing, "
        f"{len(report.changed)} altered), {len(report.duplicates)} duplicated, "
        f"{len(report.unexpected)} unexpected",
        "  measured RPO    : "
        + (f"{report.rpo_s:.3f} s" if report.rpo_s is not None else "COULD NOT VERIFY")
        + f" ({report.unmeasured_reason or 'oldest lost write before the fault to the fault'})",
        f"  ledger verified : {ledger.rows_checked} rows in {ledger.duration_s:.3f} s "
        f"({ledger.rows_per_s:,.0f} rows/s)",
    ]
    return "\n".join(lines)


def _gap_s(requested: str | None, reached: str | None) -> float | None:
    """Seconds from the requested to the reached point (negative: stopped earlier)."""
    if not requested or not reached:
        return None
    try:
        start = datetime.fromisoformat(requested.replace("Z", "+00:00"))
        end = datetime.fromisoformat(reached.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (end - start).total_seconds()


@dataclass(frozen=True)
class PitrJudgement:
    """Verdict on a PITR: RPO against its target, plus the data checks of RUNBOOKS §3.7."""

    verdict: Verdict
    rpo: ObjectiveResult
    reasons: tuple[str, ...]
    lost_before_point: tuple[str, ...]


def judge_pitr(
    result: PitrResult,
    *,
    writes: Iterable[AcknowledgedWrite],
    point_at_s: float,
    rpo: Objective,
) -> PitrJudgement:
    """Judge a PITR against RUNBOOKS §3.7.

    FAIL when the target was not reached, when a write acknowledged before the recovery point is
    missing or altered, or when the measured RPO breaches its target; COULD_NOT_VERIFY when the
    ledger could not be compared or holds no write acknowledged before the fault.
    """
    report = result.ledger.report
    if report is None:
        rpo_result = evaluate(rpo, None, result.ledger.error or "ledger not compared")
        return PitrJudgement(Verdict.COULD_NOT_VERIFY, rpo_result, (rpo_result.detail,), ())
    lost = set(report.missing) | set(report.changed)
    before = tuple(sorted(w.key for w in writes if w.key in lost and w.at_s < point_at_s))
    reasons: list[str] = []
    if not result.outcome.target_reached:
        reasons.append(f"recovery target not reached: {result.outcome.requested.describe()}")
    if before:
        reasons.append(f"{len(before)} writes acknowledged before the recovery point are lost")
    rpo_result = judge_rpo(rpo, report)
    if rpo_result.verdict is Verdict.FAIL:
        reasons.append(rpo_result.summary())
    verdict = Verdict.FAIL if reasons else rpo_result.verdict
    return PitrJudgement(verdict, rpo_result, tuple(reasons), before)


@dataclass(frozen=True)
class Promotion:
    """A replica promotion: the lag read before it and the time it took."""

    lag_s: float | None
    timeline_before: int
    timeline_after: int
    duration_s: float
    last_replay_iso: str | None = None  # the last commit replayed before pg_promote() (UTC)


def promote_replica(replica: Database, *, clock: DrillClock, wait_s: int = 60) -> Promotion:
    """Read the lag (`now() - pg_last_xact_replay_timestamp()`), then `pg_promote()`."""
    before = replica.recovery_status()
    if not before.in_recovery:
        raise DrillError(f"{replica.name} is not a standby (not in recovery); nothing to promote")
    started = clock.now()
    if not replica.promote(wait_s=wait_s):
        raise DrillError(f"{replica.name} did not leave recovery within {wait_s} s; see its log")
    after = replica.recovery_status()
    return Promotion(
        lag_s=before.replay_lag_s,
        timeline_before=before.timeline,
        timeline_after=after.timeline,
        duration_s=clock.now() - started,
        last_replay_iso=before.last_replay_iso,
    )


@dataclass(frozen=True)
class PromotionCheck:
    """A recovered instance confirmed as a primary: its status and the write that proved it."""

    status: RecoveryStatus
    write_detail: str


def confirm_promotion(database: Database) -> PromotionCheck:
    """Runbook "promote": the instance left recovery AND a row is written and read back.

    `pg_is_in_recovery()` false alone does not show the instance takes writes (a read-only
    default, a full disk or a missing table would still refuse them), so a check order is
    written, committed, read back on a new connection and deleted. Raises RecoveryStepMissing
    (FAIL) when either part is not so.
    """
    status = database.recovery_status()
    if status.in_recovery:
        raise RecoveryStepMissing(
            f"{database.name} is still in recovery (timeline {status.timeline}): it was not "
            "promoted, so the shop cannot be pointed at it; run pg_promote() or check its log"
        )
    writable, detail = database.accepts_writes()
    if not writable:
        raise RecoveryStepMissing(
            f"{database.name} left recovery but does not accept writes: {detail}; check "
            "default_transaction_read_only, its disk and that the orders table was recovered"
        )
    return PromotionCheck(status, detail)
