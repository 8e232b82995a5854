"""The data-recovery drills' ports on the RDS API (a profile's `[database] kind = "rds"`).

`RdsSnapshots` is the SnapshotStore the `snapshot-restore` drill uses: `take` is
create-db-snapshot (and its wait), `list_snapshots` describe-db-snapshots, `restore`
restore-db-instance-from-db-snapshot, the waiter (status `available`, with the profile's
timeout), then the Endpoint the API answers turned into the restored user's DSN. `RdsPitr` is
the PointInTimeRecovery the `pitr` drill uses: restore-db-instance-to-point-in-time at the
wall time of the recovery point the drill chose (RDS takes a time, not an LSN nor a name).

`RdsInstanceRemoval` is the rollback of every instance a drill creates this way: delete-db-instance
--skip-final-snapshot, recorded on disk BEFORE the restore call (kind `rds-delete-instance`,
replayed by `drills rollback`), and checked: an instance still listed afterwards is a failed
rollback, never a silent leftover.

What RDS cannot say is not invented: describe-db-snapshots holds no row counts, so `verify`
compares with the fingerprints a snapshot's tags carry (the sandbox's backing writes them from
inside the dump's own snapshot) and reports the check as not possible when there are none; the
reached recovery point is not reported by RDS, so it stays unknown and the write ledger judges
the restore.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from drills.core.clock import DrillClock, SystemClock
from drills.core.conditions import Observation
from drills.core.errors import DrillError, RecoveryStepMissing, WaitTimeout
from drills.core.safety import JsonScalar, RollbackEntry
from drills.core.waiting import wait_until
from drills.targets.adapters.aws import RdsAdapter, RdsWait
from drills.targets.adapters.postgres import PostgresDatabase
from drills.targets.ports.data import (
    Database,
    DestructiveCommit,
    PitrOutcome,
    RecoveryRequest,
    SnapshotInfo,
    SnapshotKind,
    TableFingerprint,
    VerificationResult,
    verify_fingerprints,
)

__all__ = [
    "RDS_DELETE_KIND",
    "RdsInstanceRemoval",
    "RdsPitr",
    "RdsRestoreTarget",
    "RdsSnapshots",
    "delete_instance",
    "endpoint_dsn",
]

RDS_DELETE_KIND = "rds-delete-instance"
FINGERPRINT_TAG = "drills:fingerprint:"  # written by the sandbox's backing (rds_backing)
CREATING_TAG = "drills:sandbox-creating-s"
RUN_TAG = "drills:run"
GONE_WAIT_S = 120.0  # delete-db-instance returns `deleting`; RDS lists it until it is gone


def endpoint_dsn(template: str, address: str, port: int) -> str:
    """The restored user's DSN (`template`) pointed at the Endpoint the RDS API answered."""
    parts = urlsplit(template)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}{address}:{port}"))


def _tags(raw: Any) -> dict[str, str]:
    return {str(t.get("Key")): str(t.get("Value", "")) for t in raw or ()}


def _fingerprints(tags: Mapping[str, str]) -> dict[str, TableFingerprint]:
    found = {}
    for key, value in tags.items():
        if key.startswith(FINGERPRINT_TAG) and ":" in value:
            rows, checksum = value.split(":", 1)
            table = key[len(FINGERPRINT_TAG) :]
            found[table] = TableFingerprint(table=table, rows=int(rows), checksum=checksum)
    return found


@dataclass
class RdsRestoreTarget:
    """What every RDS restore of one drill shares: the API, the source, naming, the DSN."""

    rds: RdsAdapter
    instance_id: str
    dsn_template: str
    run: str  # tagged on every snapshot and instance the drill creates
    creating_s: float | None = None  # the sandbox's modelled `creating` (a tag; AWS ignores it)
    waits: list[RdsWait] = field(default_factory=list)
    on_wait: Callable[[RdsWait], None] | None = None  # e.g. record it as a figure

    def waited(self, wait: RdsWait) -> None:
        """Keep a finished wait (and hand it to `on_wait`)."""
        self.waits.append(wait)
        if self.on_wait is not None:
            self.on_wait(wait)

    def tags(self) -> dict[str, str]:
        """The tags of what the drill creates."""
        tags = {RUN_TAG: self.run}
        if self.creating_s is not None:
            tags[CREATING_TAG] = f"{self.creating_s:g}"
        return tags

    def restored(self, call: str, name: str, restore: Callable[[], RdsWait]) -> RdsWait:
        """Run a restore and its waiter; not `available` in time is the recovery failing."""
        try:
            wait = restore()
        except WaitTimeout as exc:
            raise RecoveryStepMissing(
                f"{call}: {name} never became available within the waiter's "
                f"{self.rds.timeout_s:g} s (last seen: {exc.last_observed}); "
                "the instance is deleted by its rollback"
            ) from exc
        self.waited(wait)
        return wait

    def connect(self, name: str) -> PostgresDatabase:
        """The restored instance through the Endpoint the RDS API gives for it."""
        address, port = self.rds.endpoint(name)
        return PostgresDatabase(name, endpoint_dsn(self.dsn_template, address, port))


class RdsSnapshots:
    """SnapshotStore (and its verify) on RDS manual snapshots (module doc)."""

    def __init__(self, target: RdsRestoreTarget, *, clock: DrillClock | None = None) -> None:
        self.target = target
        self.clock = clock or SystemClock()
        self.taken: list[str] = []

    def take(self, kind: SnapshotKind = "dump") -> SnapshotInfo:
        """create-db-snapshot of the source, waited for; RDS snapshots are whole-instance."""
        started_s, wall = self.clock.now(), self.clock.wall().isoformat()
        snapshot_id = f"{self.target.run}-{uuid.uuid4().hex[:6]}"
        self.taken.append(snapshot_id)
        wait = self.target.rds.create_snapshot(
            self.target.instance_id, snapshot_id, tags=self.target.tags()
        )
        self.target.waited(wait)
        info = self.describe(snapshot_id)
        return SnapshotInfo(
            snapshot_id=snapshot_id,
            kind=kind,
            taken_wall_iso=wall,
            taken_at_s=started_s,
            location=info.location,
            fingerprints=info.fingerprints,
            size_bytes=info.size_bytes,
        )

    def list_snapshots(self) -> list[str]:
        """describe-db-snapshots of the source, oldest first."""
        return self.target.rds.list_snapshots(self.target.instance_id)

    def describe(self, snapshot_id: str) -> SnapshotInfo:
        """What RDS says of a snapshot; fingerprints only from its tags."""
        found = self.target.rds.snapshot(snapshot_id)
        created = found.get("SnapshotCreateTime")
        return SnapshotInfo(
            snapshot_id=snapshot_id,
            kind="dump",
            taken_wall_iso=created.isoformat() if isinstance(created, datetime) else str(created),
            taken_at_s=0.0,  # RDS gives a wall time only; `take` records the drill's clock
            location=(
                f"rds:{found.get('DBSnapshotArn') or snapshot_id} (size: RDS gives the "
                f"instance's AllocatedStorage, {found.get('AllocatedStorage')} GiB)"
            ),
            fingerprints=_fingerprints(_tags(found.get("TagList"))),
            size_bytes=int(found.get("AllocatedStorage") or 0) * 2**30,
        )

    def restore(self, snapshot_id: str, *, new_name: str) -> Database:
        """restore-db-instance-from-db-snapshot, the waiter, then connect via the Endpoint."""
        self.target.restored(
            "restore-db-instance-from-db-snapshot",
            new_name,
            lambda: self.target.rds.restore_from_snapshot(
                snapshot_id, new_name, tags=self.target.tags()
            ),
        )
        return self.target.connect(new_name)

    def verify(self, snapshot_id: str, restored: Database) -> VerificationResult:
        """Row counts and checksums against the snapshot's tagged fingerprints."""
        expected = _fingerprints(_tags(self.target.rds.snapshot(snapshot_id).get("TagList")))
        if not expected:
            return VerificationResult(
                ok=False,
                mismatched=(),
                missing=(),
                detail=f"snapshot {snapshot_id} carries no fingerprints: nothing to compare with",
            )
        present = set(restored.tables())
        return verify_fingerprints(
            expected, restored.fingerprint([t for t in expected if t in present])
        )


class RdsPitr:
    """PointInTimeRecovery on restore-db-instance-to-point-in-time (module doc)."""

    def __init__(self, target: RdsRestoreTarget, *, clock: DrillClock | None = None) -> None:
        self.target = target
        self.clock = clock or SystemClock()
        self.wall_points: dict[str, str] = {}

    def base_backup(self) -> str:
        """RDS backs up by itself: check automated backups are on; the source is the "backup"."""
        found = self.target.rds.instance(self.target.instance_id) or {}
        if not int(found.get("BackupRetentionPeriod") or 0):
            raise DrillError(
                f"{self.target.instance_id} keeps no automated backups (BackupRetentionPeriod "
                "0): RDS cannot restore it to a point in time"
            )
        return self.target.instance_id

    def flush_archive(self) -> str:
        """Nothing to flush: RDS ships its logs itself (the restore waits for it)."""
        return ""

    def find_destructive_commits(self) -> list[DestructiveCommit]:
        """RDS gives no access to the WAL: the drill recovers to its restore point's time."""
        return []

    def remember_point(self, name: str, wall_iso: str) -> None:
        """The wall time of a named restore point: RDS restores to times only."""
        self.wall_points[name] = wall_iso

    def recover(self, backup_id: str, request: RecoveryRequest, *, new_name: str) -> PitrOutcome:
        """Restore `backup_id` (the source) to the request's time into `new_name`."""
        when = request.time_iso or self.wall_points.get(request.name or "") or request.wall_iso
        if when is None:
            raise DrillError(f"RDS restores to a time; {request.describe()} has none")
        started = self.clock.now()
        wait = self.target.restored(
            "restore-db-instance-to-point-in-time",
            new_name,
            lambda: self.target.rds.restore_to_point_in_time(
                backup_id, new_name, restore_time_iso=_utc(when), tags=self.target.tags()
            ),
        )
        database = self.target.connect(new_name)
        status = database.recovery_status()
        return PitrOutcome(
            database=database,
            requested=request,
            requested_wall_iso=when,
            reached_wall_iso=None,  # RDS does not report it; the write ledger judges the restore
            reached_lsn=None,
            timeline=status.timeline,
            duration_s=self.clock.now() - started,
            log_excerpt=wait.describe(),
            target_reached=True,  # the API reached `available` at the requested time
        )


def _utc(iso: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone(UTC).isoformat()


@dataclass
class RdsInstanceRemoval:
    """The rollback of an instance a drill creates (or of the sandbox's source record).

    Recorded with `Drill.prepare` before the restore call; applying it does nothing (the
    restore creates the instance). The rollback deletes the drill's snapshots named in
    `snapshot_prefix`, then the instance with --skip-final-snapshot, and waits until RDS no
    longer lists it (GONE_WAIT_S): still there is a DrillError naming it and its status.
    """

    rds: RdsAdapter
    instance_id: str
    endpoint_url: str = ""  # "" on AWS; the sandbox's moto otherwise
    region: str = ""
    snapshot_prefix: str = ""
    create: Mapping[str, Any] | None = None  # the record to create first (the sandbox's source)
    clock: DrillClock = field(default_factory=SystemClock)
    kind: str = RDS_DELETE_KIND

    @property
    def target(self) -> str:
        """The instance."""
        return f"rds:{self.region}/{self.instance_id}"

    def describe(self) -> str:
        """The plan in one line."""
        made = "create the record, " if self.create else ""
        return f"{made}rollback: delete-db-instance {self.instance_id} --skip-final-snapshot" + (
            f" and its snapshots {self.snapshot_prefix}*" if self.snapshot_prefix else ""
        )

    def rollback_entry(self) -> RollbackEntry:
        """Enough for `drills rollback` to delete it from another process."""
        args: dict[str, JsonScalar] = {
            "instance_id": self.instance_id,
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "snapshot_prefix": self.snapshot_prefix,
        }
        return RollbackEntry(self.kind, self.target, args)

    def apply(self) -> None:
        """Create the record when asked (the sandbox's source); else the restore creates it."""
        if self.create is not None:
            self.rds.client.create_db_instance(**self.create)

    def rollback(self) -> None:
        """Delete the snapshots, then the instance, and see it gone."""
        delete_instance(self.rds, self.instance_id, self.snapshot_prefix, clock=self.clock)


def delete_instance(rds: RdsAdapter, instance_id: str, snapshot_prefix: str, *, clock: Any) -> bool:
    """Delete `instance_id`'s snapshots under the prefix, then it; True if anything went."""
    removed = False
    if snapshot_prefix:
        for snapshot_id in rds.list_snapshots(instance_id):
            if snapshot_id.startswith(snapshot_prefix):
                rds.delete_snapshot(snapshot_id)
                removed = True
    removed = rds.delete_instance(instance_id) or removed

    def gone() -> Observation:
        found = rds.instance(instance_id)
        status = "gone" if found is None else str(found.get("DBInstanceStatus"))
        return Observation(ok=found is None, detail=f"{instance_id} status {status}")

    wait_until(
        gone,
        clock=clock,
        timeout_s=GONE_WAIT_S,
        poll_s=1.0,
        description=f"{instance_id} deleted (the drill's throwaway instance left behind)",
    )
    return removed
