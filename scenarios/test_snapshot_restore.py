"""RUNBOOKS.md §3.6 `snapshot-restore`: data destroyed under load, restored from a snapshot.

Variant `new-instance` [000]: after a snapshot exists and users keep writing, the `orders` table
is dropped on the primary. The drill follows the runbook: detect, list the backups, restore the
newest into a NEW instance, verify it (row counts and checksums against the snapshot), point the
shop at it (Secret + rollout restart), and wait until users are served again. Objectives from
the profile's [services.database]: RTO 1 h, RPO 15 min [002]. Acknowledged writes made after the
snapshot are honestly lost; their span is the measured RPO, so a snapshot older than the RPO
target is a FAIL. The fault's rollback reinstates the primary for the drills that follow.
"""

from __future__ import annotations

import pytest

from drills import (
    Database,
    Drill,
    Profile,
    Workload,
    endpoints_listed,
    replicas_ready,
)
from drills.core.objectives import ObjectiveKind
from drills.recovery.repoint import repoint
from drills.recovery.restore_snapshot import restore_snapshot
from fixtures.load import Traffic
from fixtures.recovery import (
    RECOVERY_WAIT_CAP_S,
    DataRecovery,
    detect_user_failures,
    hold_writes,
    time_left_s,
)


@pytest.mark.cert  # RUNBOOKS.md §3.6: the P0 certification exercise
@pytest.mark.drill(
    id="snapshot-restore", runbook="RUNBOOKS.md §3.6", service="database", severity="P0"
)
def test_snapshot_restore(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    shop: Workload,
    traffic: Traffic,
    database: Database,
    data_recovery: DataRecovery,
) -> None:
    limits = drill_profile.thresholds
    users_ok = traffic.users_ok(drill, limits)
    serving = replicas_ready(shop) & endpoints_listed(shop) & users_ok
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    traffic.start()
    drill.expect_steady_state(serving)

    with drill.step("Take a snapshot (pg_dump, copy in S3)"):
        snapshot = data_recovery.snapshots.take("dump")
        drill.record_figure(
            "snapshot size",
            float(snapshot.size_bytes),
            "bytes",
            detail=snapshot.location,
            no_target="what the restore has to read; the restore's check is row counts and sums",
        )
        snapshot_done_s = drill.clock.now()
    with drill.step("Users keep writing after the snapshot"):
        lead_s = data_recovery.snapshot_lead_s
        hold_writes(drill, traffic.ledger, lead_s, after_s=snapshot_done_s, what="snapshot")
    with drill.step("Destroy: DROP TABLE orders on the primary"):
        drill.inject(data_recovery.drop_orders(snapshot))
    _record_snapshot_age(drill, snapshot.taken_at_s)
    with drill.step("Detect: users fail, the orders are gone"):
        detect_user_failures(drill, users_ok)
    with drill.step("List backups"):
        known = data_recovery.snapshots.list_snapshots()
        drill.record_figure(
            "backups listed",
            float(len(known)),
            "snapshots",
            detail=known[-1],
            no_target="runbook step evidence: the newest listed is the one restored",
        )
    with drill.step("Restore the newest snapshot into a new instance"):
        restored = restore_snapshot(
            data_recovery.snapshots,
            new_name=data_recovery.new_name,
            clock=drill.clock,
            snapshot_id=known[-1],
        )
        drill.record_figure(
            "restore duration",
            restored.restore_s,
            "s",
            detail=restored.summary(),
            no_target=_PART_OF_TTR,
        )
    with drill.step("Verify: row counts and checksums match the snapshot"):
        drill.record_figure("verify duration", restored.verify_s, "s", no_target=_PART_OF_TTR)
        assert restored.ok, f"restored data differs from the snapshot: {restored.summary()}"
    with drill.step("Repoint the shop at the restored instance"):
        moved = repoint(
            data_recovery.config,
            restored.database.dsn(),
            clock=drill.clock,
            timeout_s=RECOVERY_WAIT_CAP_S,
        )
        drill.record_since_fault("time to repoint", no_target=_PART_OF_TTR)
        drill.record_figure(
            "repoint rollout", moved.rollout_s, "s", detail=moved.summary(), no_target=_PART_OF_TTR
        )
    with drill.step("Service back: users served from the restored data"):
        drill.await_recovery(serving, timeout_s=time_left_s(drill))

    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    drill.assert_rpo(traffic.verify_writes(drill, restored.database, existing=existing).report)


_PART_OF_TTR = "a part of the recovery: TTR is judged against the RTO"


def _record_snapshot_age(drill: Drill, taken_at_s: float) -> None:
    rpo = drill.spec.objective(ObjectiveKind.RPO)
    age = (drill.fault_at_s or drill.clock.now()) - taken_at_s
    drill.record_figure(
        "snapshot age at the fault",
        age,
        "s",
        target=None if rpo is None else rpo.target_s,
        no_target="" if rpo is not None else "the service has no RPO objective",
        detail="writes acknowledged after the snapshot can only be lost",
    )
