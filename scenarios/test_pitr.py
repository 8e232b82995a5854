"""RUNBOOKS.md §3.7 `pitr`: point-in-time recovery, or a replica promoted when the primary dies.

Variant `target-time` (default): a base backup at the start, users writing, then at T the
drilled service's ledger table (`[services.<name>.ledger]`: the shop's `orders`) is dropped on
the primary. The drill follows the runbook: choose the recovery point just before the damage
(the dropping commit found in the archived WAL with pg_waldump; the restore point the fault made
when the WAL does not show it), replay base backup + WAL into a NEW instance (the whole cluster:
the service's database and role come with it), check the data with the write ledger, confirm
the promotion, repoint the service with its own role and wait until users are served again.
Figures: requested vs reached point, acknowledged writes lost before the point, between the
point and T, and after T until the cut-over. A target not reached, or a reached point further
from the requested one than the RPO, is a FAIL. The fault's rollback reinstates the primary.

Variant `replica-promote`: a replication slot on the primary and a second server streaming
through it, users writing, then the primary is killed (`pg_ctl stop -m immediate`) under load.
In the runbook's order: read the lag on the replica (`now() - pg_last_xact_replay_timestamp()`)
and the slots (`pg_replication_slots` on the primary: it is down by then, so the reading taken
right before the kill is shown, and the report says so), `pg_promote()`, a real INSERT on the
new primary, repoint the shop at it and restart. Judged: the lag at promotion (the replica's last
replayed commit against the newest write the primary acknowledged, drills.recovery.replica)
and the acknowledged writes the promoted server lacks, both against the database RPO; the RTO.
The rollbacks restart the primary, copy back what the shop wrote on the replica, point the shop
back, remove the replica and drop the slot. It copies the shop's own orders back, so against
another service it is skipped, saying so.

Objectives from [services.database]: RTO 1 h, RPO 15 min [002].
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import pytest

from drills import (
    CouldNotVerify,
    Database,
    Drill,
    Profile,
    Workload,
    endpoints_listed,
    replicas_ready,
)
from drills.core.clock import wall_at
from drills.core.conditions import Condition
from drills.core.dataloss import AcknowledgedWrite, DataLossReport
from drills.core.errors import DrillError, RpoBreached
from drills.core.objectives import ObjectiveKind
from drills.recovery.pitr import (
    PitrResult,
    Promotion,
    confirm_promotion,
    judge_pitr,
    pitr_summary,
    promote_replica,
)
from drills.recovery.replica import lag_at_promotion, lag_breach, newest_before
from drills.targets.adapters.replication import ReplicationSlot
from drills.targets.ports.data import DestructiveCommit, RecoveryPoint, RecoveryRequest
from fixtures.canary import Canary
from fixtures.load import Traffic
from fixtures.recovery import (
    PART_OF_TTR,
    DataRecovery,
    detect_user_failures,
    hold_writes,
    repoint_recorded,
    time_left_s,
)
from fixtures.replica import ReplicaPromotion

TARGET_TIME, REPLICA_PROMOTE = "target-time", "replica-promote"
VARIANTS = (TARGET_TIME, REPLICA_PROMOTE)
SHOP_ONLY_VARIANTS = (REPLICA_PROMOTE,)  # refused for another service (fixtures/recovery.py)


class Served(NamedTuple):
    """What "users are served" means to this drill: the shop up and the users' view."""

    serving: Condition
    users_ok: Condition


@pytest.mark.cert  # RUNBOOKS.md §3.7: picking the recovery point is the skill tested
@pytest.mark.drill(
    id="pitr", runbook="RUNBOOKS.md §3.7", service="database", severity="P1", variants=VARIANTS
)
def test_pitr(  # noqa: PLR0913 - one fixture per port the drill touches
    shop_only_variants: None,  # first, so a refused variant is skipped before `drill` starts
    drill: Drill,
    drill_variant: str,
    drill_profile: Profile,
    shop: Workload,
    traffic: Traffic,
    database: Database,
    data_recovery: DataRecovery,
    canary: Canary,
    request: pytest.FixtureRequest,
) -> None:
    limits = drill_profile.thresholds
    users_ok = traffic.users_ok(drill, limits)
    serving = replicas_ready(shop) & endpoints_listed(shop) & users_ok
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    if drill_variant not in VARIANTS:
        raise pytest.UsageError(f"pitr has no variant {drill_variant!r}: {VARIANTS}")
    canary.start()  # before the backup, so the canary table is in it
    traffic.start()
    drill.expect_steady_state(serving)
    if drill_variant == REPLICA_PROMOTE:
        promotion: ReplicaPromotion = request.getfixturevalue("replica_promotion")
        _replica_promote(drill, traffic, promotion, Served(serving, users_ok), existing, canary)
    else:
        _target_time(drill, traffic, data_recovery, Served(serving, users_ok), existing, canary)


def _target_time(  # noqa: PLR0913 - the drill's ports and what the steady state established
    drill: Drill,
    traffic: Traffic,
    data_recovery: DataRecovery,
    served: Served,
    existing: set[str],
    canary: Canary,
) -> None:
    """Variant `target-time`: DROP TABLE at T, recover to just before it into a new instance."""
    serving, users_ok = served
    with drill.step("Base backup (and a dump to reinstate from)"):
        started = drill.clock.now()
        backup_id = data_recovery.pitr.base_backup()
        data_recovery.note_backup_wal()  # test-only defect switch
        drill.record_figure(
            "base backup duration", drill.clock.now() - started, "s", no_target=_BEFORE_FAULT
        )
        fallback = data_recovery.snapshots.take("dump")
        backed_up_s = drill.clock.now()
    with drill.step("Users keep writing"):
        lead_s = data_recovery.snapshot_lead_s
        hold_writes(drill, traffic.ledger, lead_s, after_s=backed_up_s, what="base backup")
    table = data_recovery.table
    with drill.step(f"Damage at T: DROP TABLE {table} on the primary"):
        fault = data_recovery.drop_ledger_table(fallback)
        drill.inject(fault)
    point, point_at_s = fault.statement.recovery_point()  # none recorded: a harness ERROR
    with drill.step(f"Detect: users fail, the {table} are gone"):
        detect_user_failures(drill, users_ok)
    with drill.step("Choose the recovery point just before the damage"):
        data_recovery.pitr.flush_archive()
        lost_segments = data_recovery.lose_newest_wal(point.lsn)  # test-only defect switch
        request = _choose_point(data_recovery, point, lost_segments)
    with drill.step("Recover to the point into a new instance (base backup + WAL)"):
        outcome = data_recovery.pitr.recover(backup_id, request, new_name=data_recovery.new_name)
        drill.record_figure("recovery duration", outcome.duration_s, "s", no_target=PART_OF_TTR)
    recovered = data_recovery.on(outcome.database)  # read through the service's own ledger
    with drill.step("Check the data with the write ledger"):
        writes = traffic.ledger.writes()
        ledger = traffic.verify_writes(drill, recovered, existing=existing, writes=writes)
        result = PitrResult(outcome, ledger)
        _judge(drill, result, writes, point_at_s)
    with drill.step("Promote: the recovered instance accepts writes"):
        promoted = confirm_promotion(recovered)  # a row written and read back
        drill.record_figure(
            "timeline after promotion",
            float(promoted.status.timeline),
            "timeline",
            detail=promoted.write_detail,
            no_target="which timeline the promoted instance writes on; the write is the check",
        )
    app = data_recovery.config.deployment
    with drill.step(f"Repoint the app ({app}) at the recovered instance"):
        repoint_recorded(drill, data_recovery.config, outcome.database.dsn())
    with drill.step("Service back: users served from the recovered data"):
        drill.await_recovery(serving, timeout_s=time_left_s(drill))

    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    canary.judge(recovered)
    drill.assert_rpo(traffic.verify_writes(drill, recovered, existing=existing).report)


def _replica_promote(  # noqa: PLR0913 - the drill's ports and what the steady state established
    drill: Drill,
    traffic: Traffic,
    promotion: ReplicaPromotion,
    served: Served,
    existing: set[str],
    canary: Canary,
) -> None:
    """Variant `replica-promote`: the primary killed, the streaming replica promoted."""
    serving, users_ok = served
    with drill.step("Standby: a replication slot on the primary, a replica streaming through it"):
        drill.prepare(promotion.standby())
        drill.wait_until(
            promotion.streaming(),
            timeout_s=60,
            poll_s=0.2,
            description="replica streaming through its slot",
        )
        promotion.lag_defect()  # test-only defect switch
        ready_s = drill.clock.now()
    with drill.step("Users keep writing"):
        lead_s = promotion.recovery.snapshot_lead_s
        hold_writes(drill, traffic.ledger, lead_s, after_s=ready_s, what="replica started")
    with drill.step("Kill the primary under load (pg_ctl stop -m immediate)"):
        slots_before = promotion.slots()  # the primary cannot answer once it is gone
        drill.inject(promotion.kill_primary())
    with drill.step("Detect: users fail, the database is down"):
        detect_user_failures(drill, users_ok)
    with drill.step("Read the replication lag on the replica and the slots on the primary"):
        status = promotion.admin().recovery_status()
        drill.record_figure(
            "replication lag (now() - pg_last_xact_replay_timestamp())",
            status.replay_lag_s,
            "s",
            detail=f"last replayed commit {status.last_replay_iso or 'none (NULL)'}",
            no_target=_RUNBOOK_LAG,
        )
        _record_slots(drill, promotion, slots_before)
    with drill.step("Promote the replica: pg_promote()"):
        promoted = promote_replica(promotion.admin(), clock=drill.clock)
        drill.record_figure("promotion duration", promoted.duration_s, "s", no_target=PART_OF_TTR)
        breach = _judge_lag(drill, traffic, promotion, promoted)
        check = confirm_promotion(promotion.app())  # a real INSERT, read back
        drill.record_figure(
            "timeline after promotion",
            float(check.status.timeline),
            "timeline",
            detail=f"was {promoted.timeline_before}; {check.write_detail}",
            no_target="which timeline the promoted replica writes on; the write is the check",
        )
    with drill.step("Repoint the shop at the promoted replica"):
        repoint_recorded(drill, promotion.recovery.config, promotion.app().dsn())
    with drill.step("Service back: users served by the promoted replica"):
        drill.await_recovery(serving, timeout_s=time_left_s(drill))

    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    canary.judge(promotion.app())
    verified = traffic.verify_writes(drill, promotion.app(), existing=existing)
    lost = ""
    try:
        drill.assert_rpo(verified.report)  # acknowledged by the primary, missing after cut-over
    except RpoBreached as exc:
        if not breach:
            raise
        lost = f"; {exc}"
    assert not breach, breach + lost


def _slots(slots: Sequence[ReplicationSlot]) -> str:
    """pg_replication_slots as one line."""
    return f"{len(slots)} slot(s): " + "; ".join(s.describe() for s in slots)


def _record_slots(
    drill: Drill, promotion: ReplicaPromotion, before_kill: Sequence[ReplicationSlot]
) -> None:
    """Runbook step 4's slot reading: now if the primary answers, else the one before the kill."""
    try:
        found = promotion.slots()
        detail = f"read now on the primary: {_slots(found)}"
    except DrillError as exc:
        found = list(before_kill)
        detail = f"the primary is down ({exc}); read right before the kill: {_slots(found)}"
        drill.say(
            "pg_replication_slots lives on the primary, which is down after the kill: the "
            f"reading taken right before it is reported instead ({_slots(found)})"
        )
    drill.record_figure(
        "replication slots on the primary",
        float(len(found)),
        "slots",
        detail=detail,
        no_target="the runbook reads them before promoting; the lag at promotion is judged",
    )


def _judge_lag(
    drill: Drill, traffic: Traffic, promotion: ReplicaPromotion, promoted: Promotion
) -> str:
    """Record the lag at promotion against the RPO; return the FAIL reason ("" within it)."""
    rpo = drill.spec.objective(ObjectiveKind.RPO)
    assert rpo is not None, "no database RPO in the profile; pass --objective database.rpo=15m"
    fault_at = drill.fault_at_s if drill.fault_at_s is not None else drill.clock.now()
    newest = newest_before(traffic.ledger.writes(), fault_at)
    if newest is None or promotion.since is None:
        raise CouldNotVerify(
            "no write was acknowledged before the primary was killed, so how far behind the "
            "replica was cannot be measured; check that users can place orders"
        )
    lag = lag_at_promotion(
        newest_ack=wall_at(drill.clock, newest),
        last_replay_iso=promoted.last_replay_iso,
        replica_since=promotion.since,
        runbook_lag_s=promoted.lag_s,
    )
    drill.record_figure(
        "replication lag at promotion", lag.lag_s, "s", target=rpo.target_s, detail=lag.detail
    )
    return lag_breach(lag, rpo)


_BEFORE_FAULT = "preparation before the fault; not part of the outage"
_POINT = "how the point was found; the reached point is judged against the RPO"
_RUNBOOK_LAG = (
    "the runbook's query; once the primary is dead it grows with the time since, so the lag "
    "at promotion is judged instead"
)
_AFTER_T = "writes after the damage cannot be in a restore to before it: the RPO judges them"


def _choose_point(
    data_recovery: DataRecovery, point: RecoveryPoint, lost_segments: Sequence[str]
) -> RecoveryRequest:
    """Where to stop: just before the dropping commit, else at the fault's restore point.

    The commit is the first relation-dropping one after the restore point in the archived WAL.
    """
    commits = data_recovery.pitr.find_destructive_commits()
    after = [c for c in commits if _lsn(c.lsn) > _lsn(point.lsn)]
    chosen: DestructiveCommit | None = after[0] if after else None
    detail = f"archive lost {len(lost_segments)} segments: {lost_segments}" if lost_segments else ""
    drill = data_recovery.drill
    if chosen is not None:
        drill.record_figure(
            "recovery point found in the WAL",
            1.0,
            "found",
            detail=f"{chosen} {detail}".strip(),
            no_target=_POINT,
        )
        return RecoveryRequest(lsn=chosen.lsn, wall_iso=chosen.wall_iso)
    drill.record_figure(
        "recovery point found in the WAL",
        0.0,
        "found",
        detail=f"no dropping commit after {point.lsn}; using restore point {point.name} {detail}",
        no_target=_POINT,
    )
    data_recovery.pitr.remember_point(point.name, point.wall_iso)
    return RecoveryRequest(name=point.name)


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def _judge(
    drill: Drill, result: PitrResult, writes: Sequence[AcknowledgedWrite], point_at_s: float
) -> None:
    """Record the PITR figures; FAIL when the target was missed or writes before it are lost."""
    rpo = drill.spec.objective(ObjectiveKind.RPO)
    assert rpo is not None, "no database RPO in the profile; pass --objective database.rpo=15m"
    outcome, report = result.outcome, result.ledger.report
    gap = _gap_s(outcome.requested_wall_iso, outcome.reached_wall_iso)
    drill.record_figure(
        "reached - requested recovery point",
        gap,
        "s",
        target=rpo.target_s,
        detail=pitr_summary(outcome, result.ledger),
    )
    if report is not None:
        _record_losses(drill, report, writes, point_at_s)
    judged = judge_pitr(result, writes=writes, point_at_s=point_at_s, rpo=rpo)
    reasons = list(judged.reasons)
    if gap is not None and abs(gap) > rpo.target_s:
        reasons.append(f"reached point {gap:+.1f} s from the requested one, beyond the RPO")
    assert not reasons, "PITR check failed: " + "; ".join(reasons)


def _record_losses(
    drill: Drill, report: DataLossReport, writes: Sequence[AcknowledgedWrite], point_at_s: float
) -> None:
    lost = set(report.missing) | set(report.changed)
    fault_at = drill.fault_at_s or point_at_s
    times = [w.at_s for w in writes if w.key in lost]
    spans = {
        "writes lost before the recovery point": (float("-inf"), point_at_s),
        "writes lost between the point and T": (point_at_s, fault_at),
        "writes lost after T until cut-over": (fault_at, float("inf")),
    }
    for name, (start, end) in spans.items():
        count = sum(1 for at in times if start <= at < end)
        drill.record_figure(
            name,
            float(count),
            "writes",
            target=0.0 if end <= fault_at else None,
            no_target="" if end <= fault_at else _AFTER_T,
        )


def _gap_s(requested: str | None, reached: str | None) -> float | None:
    """Seconds from the requested to the reached point (negative: stopped earlier)."""
    if not requested or not reached:
        return None
    start = datetime.fromisoformat(requested.replace("Z", "+00:00"))
    return (datetime.fromisoformat(reached.replace("Z", "+00:00")) - start).total_seconds()
