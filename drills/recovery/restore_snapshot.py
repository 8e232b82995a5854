"""Runbook recovery `snapshot-restore` (RUNBOOKS §3.6, variant new-instance).

List the snapshots, pick the newest (or the one asked for), restore it into a NEW instance and
verify it: per-table row counts and checksums against what the snapshot recorded. A restore whose
tables differ is a failure naming the tables, not "the command exited 0".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from drills.core.clock import DrillClock
from drills.core.errors import DrillError
from drills.targets.ports.data import Database, SnapshotInfo, SnapshotStore, VerificationResult

__all__ = ["RestoreResult", "VerifyingSnapshotStore", "restore_snapshot"]


class VerifyingSnapshotStore(SnapshotStore, Protocol):
    """A snapshot store that can also check a restore against the snapshot."""

    def verify(self, snapshot_id: str, restored: Database) -> VerificationResult:
        """Compare the restored tables with the snapshot's fingerprints."""
        ...


@dataclass(frozen=True)
class RestoreResult:
    """A finished restore: where, from what, verified or not, how long each phase took."""

    snapshot: SnapshotInfo
    database: Database
    verification: VerificationResult
    restore_s: float
    verify_s: float

    @property
    def ok(self) -> bool:
        """True only when the restored content matches the snapshot."""
        return self.verification.ok

    def summary(self) -> str:
        """One line for the report."""
        verdict = "verified" if self.ok else "VERIFICATION FAILED"
        return (
            f"restored {self.snapshot.snapshot_id} ({self.snapshot.kind}) into "
            f"{self.database.name} in {self.restore_s:.2f} s, {verdict} in {self.verify_s:.2f} s:"
            f" {self.verification.detail}"
        )


def restore_snapshot(
    store: VerifyingSnapshotStore,
    *,
    new_name: str,
    clock: DrillClock,
    snapshot_id: str | None = None,
) -> RestoreResult:
    """Restore the newest snapshot (or `snapshot_id`) into `new_name` and verify it."""
    known = store.list_snapshots()
    if not known:
        raise DrillError("no snapshot to restore; take one before the fault (store.take())")
    chosen = snapshot_id or known[-1]
    info = store.describe(chosen)
    started = clock.now()
    restored = store.restore(chosen, new_name=new_name)
    restored_at = clock.now()
    verification = store.verify(chosen, restored)
    return RestoreResult(
        snapshot=info,
        database=restored,
        verification=verification,
        restore_s=restored_at - started,
        verify_s=clock.now() - restored_at,
    )
