"""Ports for the data tier: databases, sessions, snapshots, point-in-time recovery, object store.

The drill vocabulary (faults, probes, recovery, load) sees only these Protocols and the frozen
values below; adapters in `drills.targets.adapters` (psycopg, boto3, local PostgreSQL tools)
implement them, and unit tests use in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from drills.targets.ports.database_server import DatabaseServer

__all__ = [
    "ConnectionLimits",
    "Database",
    "DestructiveCommit",
    "ObjectStore",
    "PitrOutcome",
    "PointInTimeRecovery",
    "RecoveryPoint",
    "RecoveryRequest",
    "RecoveryStatus",
    "ServerFactory",
    "ServerInstance",
    "SessionHolder",
    "SessionInfo",
    "SnapshotInfo",
    "SnapshotStore",
    "TableFingerprint",
    "VerificationResult",
    "verify_fingerprints",
]

SnapshotKind = Literal["base", "dump"]


@dataclass(frozen=True)
class TableFingerprint:
    """Row count and content checksum of one table (md5 of its rows ordered by primary key)."""

    table: str
    rows: int
    checksum: str


@dataclass(frozen=True)
class SessionInfo:
    """One backend from pg_stat_activity (client backends only)."""

    pid: int
    application_name: str
    state: str
    state_age_s: float
    query_age_s: float | None
    datname: str


@dataclass(frozen=True)
class ConnectionLimits:
    """How full the server is, and the limits of the asking role and database.

    `role_limit`/`database_limit` are the CONNECTION LIMIT of the role that asked and of its
    database (None: no limit of their own, only the server's); the `*_in_use` counts are the
    client backends of that role and database. `in_use` is the whole server's only when a
    superuser asked (PostgreSQL hides other roles' backends from an ordinary role).
    """

    max_connections: int
    superuser_reserved: int
    in_use: int
    role: str = ""
    role_limit: int | None = None
    role_in_use: int = 0
    database: str = ""
    database_limit: int | None = None
    database_in_use: int = 0

    @property
    def ordinary_slots(self) -> int:
        """Slots an ordinary (non-superuser) client may use."""
        return self.max_connections - self.superuser_reserved

    @property
    def own_limit(self) -> int | None:
        """The tighter of the role's and the database's own limit; None when neither has one."""
        limits = [x for x in (self.role_limit, self.database_limit) if x is not None]
        return min(limits) if limits else None

    @property
    def free_slots(self) -> int:
        """Connections the asking role could still open (never below 0).

        In use counts superuser sessions too (they may sit in reserved slots), so the server's
        ordinary slots minus in use is a lower bound; the role's and database's own limits cap
        it further.
        """
        free = [self.ordinary_slots - self.in_use]
        if self.role_limit is not None:
            free.append(self.role_limit - self.role_in_use)
        if self.database_limit is not None:
            free.append(self.database_limit - self.database_in_use)
        return max(0, min(free))

    def describe(self) -> str:
        """`12 sessions of max_connections 30 (3 reserved); role app limit 20 (9 in use)`."""
        text = (
            f"{self.in_use} sessions of max_connections {self.max_connections} "
            f"({self.superuser_reserved} reserved for superusers)"
        )
        if self.role_limit is not None:
            text += f"; role {self.role} limit {self.role_limit} ({self.role_in_use} in use)"
        if self.database_limit is not None:
            text += (
                f"; database {self.database} limit {self.database_limit} "
                f"({self.database_in_use} in use)"
            )
        return text


@dataclass(frozen=True)
class RecoveryStatus:
    """Where a server stands: in recovery or not, replay position, timeline."""

    in_recovery: bool
    timeline: int
    last_replay_iso: str | None
    replay_lag_s: float | None


@dataclass(frozen=True)
class RecoveryPoint:
    """A named point in the WAL (pg_create_restore_point) with its LSN and wall time."""

    name: str
    lsn: str
    wall_iso: str


class Database(Protocol):
    """A PostgreSQL database the drill can reach."""

    name: str

    def dsn(self) -> str:
        """Connection string (secrets are never logged by callers)."""
        ...

    def is_reachable(self) -> bool:
        """True when `SELECT 1` succeeds right now."""
        ...

    def probe(self, *, timeout_s: float = 2.0) -> tuple[bool, str]:
        """Try to connect and run `SELECT 1`: (ok, detail such as the refusal message)."""
        ...

    def execute(self, sql: str) -> int:
        """Run one statement in its own transaction; return the affected row count."""
        ...

    def execute_keeping(self, sql: str, table: str, path: Path) -> int:
        """Run `sql` in a transaction that first locks `table` and copies its rows to `path`.

        The copy (binary COPY, written and fsync'd before the statement runs) holds every row
        committed before the statement; writes blocked by the lock fail with the statement's
        effect. A crash before COMMIT leaves the table as it was.
        """
        ...

    def tables(self) -> list[str]:
        """User tables in the public schema, sorted."""
        ...

    def fingerprint(self, tables: Sequence[str] | None = None) -> dict[str, TableFingerprint]:
        """Row counts and checksums of `tables` (all user tables when None)."""
        ...

    def sessions(self) -> list[SessionInfo]:
        """Client backends now connected (pg_stat_activity)."""
        ...

    def limits(self) -> ConnectionLimits:
        """max_connections, superuser_reserved_connections and client backends in use."""
        ...

    def terminate(
        self, pids: Sequence[int], *, only_state: str | None = None, older_than_s: float = 0.0
    ) -> list[int]:
        """pg_terminate_backend each pid; return those actually terminated.

        With `only_state`, the server re-checks state and state age at the moment of
        termination, so a session that turned active since it was listed is spared.
        """
        ...

    def terminate_application(self, application_name: str) -> list[int]:
        """Terminate every session tagged with `application_name`; return their pids."""
        ...

    def promote(self, *, wait_s: int = 60) -> bool:
        """pg_promote() on a standby; True once it left recovery."""
        ...

    def accepts_writes(self) -> tuple[bool, str]:
        """Write a check order, commit, read it back on a new connection, delete it.

        (ok, detail): False with the server's refusal when it is read-only or still recovering.
        """
        ...

    def orders_present(self) -> dict[str, tuple[str, int]]:
        """The orders table as the ledger compares it: order_key -> (payload_hash, copies)."""
        ...

    def recovery_status(self) -> RecoveryStatus:
        """pg_is_in_recovery, timeline, last replayed transaction time, replication lag."""
        ...

    def create_restore_point(self, name: str) -> RecoveryPoint:
        """pg_create_restore_point and a WAL switch so the point reaches the archive."""
        ...


class SessionHolder(Protocol):
    """Opens and holds client sessions, the way a leaking application does."""

    application_name: str

    def hold(self, count: int, *, idle_in_transaction_every: int = 2) -> int:
        """Open up to `count` sessions; return how many the server accepted."""
        ...

    def held(self) -> int:
        """Sessions this holder still has open."""
        ...

    def release(self) -> None:
        """Close every held session (idempotent)."""
        ...


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot and what it held when taken (so a restore can be verified)."""

    snapshot_id: str
    kind: SnapshotKind
    taken_wall_iso: str
    taken_at_s: float
    location: str
    fingerprints: Mapping[str, TableFingerprint] = field(default_factory=dict)
    size_bytes: int = 0


@dataclass(frozen=True)
class VerificationResult:
    """Restored tables compared with the snapshot's fingerprints."""

    ok: bool
    mismatched: tuple[str, ...]
    missing: tuple[str, ...]
    detail: str


def verify_fingerprints(
    expected: Mapping[str, TableFingerprint], actual: Mapping[str, TableFingerprint]
) -> VerificationResult:
    """Compare per-table row counts and checksums; name every table that differs."""
    missing = tuple(sorted(t for t in expected if t not in actual))
    mismatched = tuple(sorted(t for t in expected if t in actual and actual[t] != expected[t]))
    parts = [f"{len(expected)} tables checked"]
    for table in mismatched:
        want, got = expected[table], actual[table]
        parts.append(f"{table}: rows {got.rows} vs {want.rows} snapshotted, checksum differs")
    parts.extend(f"{table}: missing" for table in missing)
    ok = not missing and not mismatched
    return VerificationResult(
        ok=ok, mismatched=mismatched, missing=missing, detail="; ".join(parts)
    )


class SnapshotStore(Protocol):
    """Where snapshots/backups live and how they are restored."""

    def list_snapshots(self) -> list[str]:
        """Snapshot identifiers, oldest first."""
        ...

    def take(self, kind: SnapshotKind = "dump") -> SnapshotInfo:
        """Snapshot the source database now, recording its fingerprints."""
        ...

    def describe(self, snapshot_id: str) -> SnapshotInfo:
        """What a snapshot held; raises DrillError naming the known ids when unknown."""
        ...

    def restore(self, snapshot_id: str, *, new_name: str) -> Database:
        """Restore into a NEW instance and return it (running)."""
        ...


@dataclass(frozen=True)
class RecoveryRequest:
    """Where PITR should stop: a time, an LSN or a named restore point (none = archive end)."""

    time_iso: str | None = None
    lsn: str | None = None
    name: str | None = None
    wall_iso: str | None = None  # for display: when the point was, if known (e.g. commit time)

    def describe(self) -> str:
        """Human-readable target."""
        if self.name:
            return f"restore point '{self.name}'"
        if self.lsn:
            return f"LSN {self.lsn}"
        if self.time_iso:
            return f"time {self.time_iso}"
        return "end of the WAL archive"


@dataclass(frozen=True)
class DestructiveCommit:
    """A committed transaction that dropped relations, as found in the WAL (pg_waldump)."""

    xid: int
    lsn: str
    wall_iso: str


@dataclass(frozen=True)
class PitrOutcome:
    """A finished point-in-time recovery: requested vs reached, the new instance, timings."""

    database: Database
    requested: RecoveryRequest
    requested_wall_iso: str | None
    reached_wall_iso: str | None
    reached_lsn: str | None
    timeline: int
    duration_s: float
    log_excerpt: str
    target_reached: bool = True


class PointInTimeRecovery(Protocol):
    """Base backups plus a WAL archive, replayed into a new instance."""

    def base_backup(self) -> str:
        """Take a base backup now; return its id."""
        ...

    def recover(self, backup_id: str, request: RecoveryRequest, *, new_name: str) -> PitrOutcome:
        """Restore the backup into a new instance, replay to `request`, promote."""
        ...


class ObjectStore(Protocol):
    """Bucket-like storage for dumps (S3, or moto in the sandbox)."""

    def put_file(self, key: str, path: Path) -> str:
        """Upload; return the object's URI."""
        ...

    def get_file(self, key: str, path: Path) -> Path:
        """Download to `path`."""
        ...

    def keys(self, prefix: str = "") -> list[str]:
        """Keys under `prefix`, sorted."""
        ...


class ServerInstance(DatabaseServer, Protocol):
    """A local PostgreSQL server the harness controls (the sandbox's LocalPostgres).

    Beyond stopping and starting it (`DatabaseServer`), the harness backs it up, reads its WAL
    archive and removes it.
    """

    @property
    def archive_dir(self) -> Path:
        """Where this server's WAL archive lives."""
        ...

    def remove(self, *, archive: bool = False) -> None:
        """Stop and delete it."""
        ...

    def dsn(self, dbname: str | None = None) -> str:
        """DSN of the application role."""
        ...

    def admin_dsn(self, dbname: str | None = None) -> str:
        """DSN of the superuser (reserved slots; sessions, promotion, restore points)."""
        ...

    def base_backup(self, target: Path, *, fmt: Literal["p", "t"] = "p") -> Path:
        """pg_basebackup into `target`."""
        ...

    def run_tool(
        self, program: str, args: Sequence[str], *, timeout_s: float = 300.0, check: bool = True
    ) -> str:
        """Run a PostgreSQL program as the server's user; return its stdout."""
        ...

    def own(self, path: Path, *, recursive: bool = True) -> None:
        """Give `path` to the server's user."""
        ...


class ServerFactory(Protocol):
    """Builds new local instances: restore targets and replicas."""

    def from_backup(
        self,
        name: str,
        backup: Path,
        *,
        request: RecoveryRequest | None,
        archive_dir: Path | None,
    ) -> ServerInstance:
        """A new, not yet started instance from a base backup (archive recovery when asked)."""
        ...

    def reconfigure_recovery(
        self, name: str, *, request: RecoveryRequest | None, archive_dir: Path | None
    ) -> ServerInstance:
        """The existing instance `name`, set up for another archive recovery attempt."""
        ...

    def empty(self, name: str) -> ServerInstance:
        """A new, not yet started, empty instance (for logical restores)."""
        ...
