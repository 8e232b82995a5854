"""RDS-shaped snapshots for the sandbox: the API on moto, the data in local PostgreSQL.

RUNBOOKS §3.6 `new-instance` restores an RDS snapshot into a new instance and polls
describe-db-instances until it is `available`. In the sandbox, the RDS calls go to the moto server
(real boto3 calls, real status fields, a MODELLED duration since moto finishes at once) while the
bytes live in local dumps restored into a new local PostgreSQL. Both halves must succeed; the
report says which duration was modelled.
"""

from __future__ import annotations

from drills.targets.adapters.aws import RdsAdapter, RdsWait
from drills.targets.adapters.localdb import LocalSnapshotStore
from drills.targets.adapters.postgres import PostgresDatabase
from drills.targets.ports.data import Database, SnapshotInfo, SnapshotKind, VerificationResult

__all__ = ["RdsShadowedSnapshots"]


def _rds_id(snapshot_id: str) -> str:
    """RDS identifiers: lower-case letters, digits and hyphens, starting with a letter."""
    return snapshot_id.lower().replace("_", "-")


class RdsShadowedSnapshots:
    """SnapshotStore port: each snapshot exists as an RDS snapshot and as a local dump."""

    def __init__(self, rds: RdsAdapter, store: LocalSnapshotStore, *, instance_id: str) -> None:
        self.rds = rds
        self.store = store
        self.instance_id = instance_id
        self.waits: list[RdsWait] = []

    def list_snapshots(self) -> list[str]:
        """Snapshots known to both sides, oldest first."""
        remote = set(self.rds.list_snapshots(self.instance_id))
        return [s for s in self.store.list_snapshots() if _rds_id(s) in remote]

    def describe(self, snapshot_id: str) -> SnapshotInfo:
        """The local manifest (fingerprints) of a snapshot."""
        return self.store.describe(snapshot_id)

    def take(self, kind: SnapshotKind = "dump") -> SnapshotInfo:
        """Dump locally, then create the RDS snapshot of the same name and wait for it."""
        info = self.store.take(kind)
        self.waits.append(self.rds.create_snapshot(self.instance_id, _rds_id(info.snapshot_id)))
        return info

    def restore(self, snapshot_id: str, *, new_name: str) -> PostgresDatabase:
        """restore-db-instance-from-db-snapshot (wait for `available`), and the local restore."""
        self.waits.append(self.rds.restore_from_snapshot(_rds_id(snapshot_id), new_name))
        return self.store.restore(snapshot_id, new_name=new_name)

    def verify(self, snapshot_id: str, restored: Database) -> VerificationResult:
        """Per-table checksums of the local restore against the snapshot."""
        return self.store.verify(snapshot_id, restored)
