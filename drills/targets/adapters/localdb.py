"""Snapshots and point-in-time recovery with the PostgreSQL tools, on local server instances.

`LocalSnapshotStore` (SnapshotStore port): logical dumps (`pg_dump -Fc`, taken inside an exported
REPEATABLE READ snapshot so the recorded fingerprints match the dump exactly, even under writes)
and base backups (`pg_basebackup -Ft`), kept under a work directory and copied to an ObjectStore
(S3; moto in the sandbox). A restore always builds a NEW instance, from the object store's copy
when there is one, and `verify()` compares per-table row counts and checksums with the snapshot.

`LocalPitr` (PointInTimeRecovery port): plain base backups plus the primary's WAL archive, replayed
into a new instance with `recovery.signal`, `restore_command` and one recovery target, promoted at
the end. It reports the requested and the reached point, read from the server log.

The server instances come from a `ServerFactory` (the sandbox's `LocalPostgresFactory`), so this
module runs every tool as the server's unprivileged user and never imports the sandbox.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg

from drills.core.clock import DrillClock, SystemClock
from drills.core.conditions import Observation
from drills.core.errors import DrillError
from drills.core.waiting import wait_until
from drills.targets.adapters.postgres import PostgresDatabase, fingerprint_table
from drills.targets.ports.data import (
    Database,
    DestructiveCommit,
    ObjectStore,
    PitrOutcome,
    RecoveryRequest,
    ServerFactory,
    ServerInstance,
    SnapshotInfo,
    SnapshotKind,
    TableFingerprint,
    VerificationResult,
    verify_fingerprints,
)

__all__ = [
    "LocalPitr",
    "LocalSnapshotStore",
    "ServiceData",
    "destructive_commits",
    "reached_point_from_log",
    "service_dsn",
]

_NOT_REACHED = "before configured recovery target was reached"


@dataclass(frozen=True)
class ServiceData:
    """Which database of the server holds the service's data, and the role it connects as.

    Empty names mean the instance's own application database and role (the demo shop's). A
    service with a database of its own (read from its DSN) is dumped, restored and reached
    there: a logical dump holds one database and no role, so a restore creates both first.
    """

    database: str = ""
    role: str = ""

    def admin_dsn(self, server: ServerInstance) -> str:
        """The superuser's DSN on the service's database of `server`."""
        return server.admin_dsn(self.database or None)

    def dsn(self, server: ServerInstance) -> str:
        """The service's DSN on `server`: its role on its database."""
        return service_dsn(server.dsn(self.database or None), self.role)


def service_dsn(dsn: str, role: str) -> str:
    """`dsn` (a libpq URI without a password) with the user `role` ("" leaves it as it is)."""
    if not role:
        return dsn
    parts = urlsplit(dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(role, safe='')}@{host}"))


def ensure_service_database(server: ServerInstance, service: ServiceData) -> None:
    """Create the service's role and database on `server` when missing (idempotent).

    The restore target of a logical dump: pg_dump carries one database and no role, and its
    `ALTER ... OWNER TO` statements need the role to exist.
    """
    psql = ["-X", "-tAq", "-v", "ON_ERROR_STOP=1", "-d", server.admin_dsn("postgres"), "-c"]
    if service.role:
        role = _sql_literal(service.role)
        server.run_tool(
            "psql",
            [
                *psql,
                f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
                f"THEN CREATE ROLE {_sql_ident(service.role)} LOGIN; END IF; END $$",
            ],
        )
    if not service.database:
        return
    found = server.run_tool(
        "psql",
        [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{_sql_literal(service.database)}'"],
    )
    if not found.strip():
        owner = f" OWNER {_sql_ident(service.role)}" if service.role else ""
        server.run_tool("psql", [*psql, f"CREATE DATABASE {_sql_ident(service.database)}{owner}"])


def _sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_literal(text: str) -> str:
    return text.replace("'", "''")


def _new_id(prefix: str, clock: DrillClock) -> str:
    stamp = clock.wall().strftime("%Y%m%dT%H%M%S")
    return f"{prefix}-{stamp}-{uuid.uuid4().hex[:6]}"


class LocalSnapshotStore:
    """SnapshotStore port over pg_dump / pg_basebackup, with an optional object-store copy."""

    def __init__(  # noqa: PLR0913 - keyword-only wiring of one store
        self,
        source: ServerInstance,
        *,
        factory: ServerFactory,
        work_dir: Path,
        objects: ObjectStore | None = None,
        clock: DrillClock | None = None,
        prefix: str = "snapshots",
        service: ServiceData | None = None,
    ) -> None:
        self.source = source
        self.factory = factory
        self.work_dir = work_dir
        self.objects = objects
        self.clock = clock or SystemClock()
        self.prefix = prefix
        self.service = service or ServiceData()

    def _dir(self, snapshot_id: str) -> Path:
        return self.work_dir / snapshot_id

    def list_snapshots(self) -> list[str]:
        """Snapshot ids (with a manifest), oldest first."""
        infos = [self.describe(p.parent.name) for p in self.work_dir.glob("*/manifest.json")]
        return [i.snapshot_id for i in sorted(infos, key=lambda info: info.taken_at_s)]

    def describe(self, snapshot_id: str) -> SnapshotInfo:
        """Read a snapshot's manifest."""
        path = self._dir(snapshot_id) / "manifest.json"
        if not path.exists():
            known = ", ".join(p.parent.name for p in self.work_dir.glob("*/manifest.json"))
            raise DrillError(f"unknown snapshot '{snapshot_id}' (known: {known or 'none'})")
        raw = json.loads(path.read_text())
        raw["fingerprints"] = {
            t: TableFingerprint(**fp) for t, fp in raw.get("fingerprints", {}).items()
        }
        return SnapshotInfo(**raw)

    def take(self, kind: SnapshotKind = "dump") -> SnapshotInfo:
        """Snapshot the source now and record its fingerprints.

        Dumps record fingerprints read in the dump's own snapshot, exact under any load. A base
        backup is consistent as of its end, and its fingerprints are read right after it ends,
        so they match exactly only when nothing writes during the backup; under load, verify a
        base-backup restore with the write ledger instead.
        """
        snapshot_id = _new_id(kind, self.clock)
        folder = self._dir(snapshot_id)
        folder.mkdir(parents=True)
        self.source.own(self.work_dir, recursive=False)
        self.source.own(folder)
        taken_at_s, wall = self.clock.now(), self.clock.wall().isoformat()
        if kind == "dump":
            fingerprints = self._dump(folder / "dump.pgc")
        else:
            self.source.base_backup(folder / "base", fmt="t")
            fingerprints = PostgresDatabase("source", self.service.dsn(self.source)).fingerprint()
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        location = str(folder)
        if self.objects is not None:
            for path in files:
                key = f"{self.prefix}/{snapshot_id}/{path.relative_to(folder)}"
                location = self.objects.put_file(key, path).rsplit("/", 1)[0]
        info = SnapshotInfo(
            snapshot_id=snapshot_id,
            kind=kind,
            taken_wall_iso=wall,
            taken_at_s=taken_at_s,
            location=location,
            fingerprints=fingerprints,
            size_bytes=sum(p.stat().st_size for p in files),
        )
        self._write_manifest(info)
        return info

    def _write_manifest(self, info: SnapshotInfo) -> None:
        raw = asdict(info)
        (self._dir(info.snapshot_id) / "manifest.json").write_text(json.dumps(raw, indent=1))

    def _dump(self, target: Path) -> dict[str, TableFingerprint]:
        """pg_dump inside an exported snapshot; fingerprints read in that same snapshot."""
        admin = self.service.admin_dsn(self.source)
        with psycopg.connect(admin, application_name="drills-snapshot") as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            if row is None:
                raise DrillError("pg_export_snapshot() returned nothing")
            db = PostgresDatabase("source", admin)
            fingerprints = {t: fingerprint_table(conn, t) for t in db.tables()}
            self.source.run_tool(
                "pg_dump",
                [
                    "-Fc",
                    "-Z",
                    "1",
                    f"--snapshot={row[0]}",
                    "-f",
                    str(target),
                    "-d",
                    admin,
                ],
            )
            conn.rollback()
        return fingerprints

    def _fetch(self, info: SnapshotInfo, into: Path) -> Path:
        """The snapshot's files, from the object store when it holds them (round trip proven)."""
        if self.objects is None:
            return self._dir(info.snapshot_id)
        keys = self.objects.keys(f"{self.prefix}/{info.snapshot_id}/")
        if not keys:
            raise DrillError(f"snapshot {info.snapshot_id} has no objects in {info.location}")
        for key in keys:
            self.objects.get_file(key, into / key.split(f"{info.snapshot_id}/", 1)[1])
        self.source.own(into)
        return into

    def restore(self, snapshot_id: str, *, new_name: str) -> PostgresDatabase:
        """Restore into a NEW instance `new_name` (started) and return its database."""
        info = self.describe(snapshot_id)
        staging = self.work_dir / f".fetch-{new_name}-{uuid.uuid4().hex[:6]}"
        staging.mkdir(parents=True)
        self.source.own(staging)
        try:
            files = self._fetch(info, staging)
            if info.kind == "base":
                server = self.factory.from_backup(
                    new_name, files / "base", request=None, archive_dir=None
                )
                server.start()
            else:
                server = self.factory.empty(new_name)
                server.start()
                ensure_service_database(server, self.service)
                target = self.service.admin_dsn(server)
                dump = str(files / "dump.pgc")
                server.run_tool("pg_restore", ["--exit-on-error", "-d", target, dump])
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return PostgresDatabase(new_name, self.service.dsn(server))

    def verify(self, snapshot_id: str, restored: Database) -> VerificationResult:
        """Per-table row counts and checksums of the restore vs the snapshot."""
        expected = self.describe(snapshot_id).fingerprints
        present = set(restored.tables())
        actual = restored.fingerprint([t for t in expected if t in present])
        return verify_fingerprints(expected, actual)


# Order matters: a named restore point is the reached point itself; otherwise the last
# transaction actually replayed (not the first one recovery refused to apply).
_STOP_PATTERNS = (
    re.compile(r"recovery stopping at restore point \"[^\"]*\", time (?P<time>[\d\-: .+]+)"),
    re.compile(r"last completed transaction was at log time (?P<time>[\d\-: .+]+)"),
    re.compile(
        r"recovery stopping (?:before|after) (?:commit|abort) of transaction \d+, "
        r"time (?P<time>[\d\-: .+]+)"
    ),
)
_DROP_COMMIT = re.compile(
    r"tx:\s+(?P<xid>\d+), lsn: (?P<lsn>[0-9A-F]+/[0-9A-F]+),.*?desc: COMMIT "
    r"(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC; rels: "
)
_REDO_DONE = re.compile(r"redo done at (?P<lsn>[0-9A-F]+/[0-9A-F]+)")


def _iso(logged: str) -> str:
    """'2026-11-23 08:10:07.785868+00' -> '2026-11-23T08:10:07.785868+00:00' (UTC)."""
    text = logged.strip()
    if len(text) > 3 and text[-3] in "+-" and text[-2:].isdigit():
        text += ":00"
    try:
        return datetime.fromisoformat(text).astimezone(UTC).isoformat()
    except ValueError:
        return logged.strip()


def reached_point_from_log(log: str) -> tuple[str | None, str | None]:
    """(reached wall time ISO UTC, redo-done LSN) as logged at the end of recovery."""
    reached = None
    for pattern in _STOP_PATTERNS:
        matches = list(pattern.finditer(log))
        if matches:
            reached = _iso(matches[-1].group("time"))
            break
    lsns = list(_REDO_DONE.finditer(log))
    return reached, (lsns[-1].group("lsn") if lsns else None)


def destructive_commits(waldump_output: str) -> list[DestructiveCommit]:
    """Commits that dropped relations (DROP TABLE, TRUNCATE, ...) in pg_waldump output."""
    found = []
    for match in _DROP_COMMIT.finditer(waldump_output):
        wall = match.group("time").replace(" ", "T") + "+00:00"
        found.append(DestructiveCommit(int(match.group("xid")), match.group("lsn"), wall))
    return found


def _contiguous_tail(names: list[str]) -> list[str]:
    """The newest run of consecutive WAL segment names (one timeline)."""
    if not names:
        return []
    tail = [names[-1]]
    for name in reversed(names[:-1]):
        if name[:8] != tail[0][:8] or int(name[8:], 16) + 1 != int(tail[0][8:], 16):
            break
        tail.insert(0, name)
    return tail


class LocalPitr:
    """PointInTimeRecovery port: base backups + the primary's WAL archive, new instance."""

    def __init__(  # noqa: PLR0913 - keyword-only wiring of one recovery
        self,
        primary: ServerInstance,
        *,
        factory: ServerFactory,
        work_dir: Path,
        clock: DrillClock | None = None,
        timeout_s: float = 120.0,
        service: ServiceData | None = None,
    ) -> None:
        self.primary = primary
        self.factory = factory
        self.work_dir = work_dir
        self.clock = clock or SystemClock()
        self.timeout_s = timeout_s
        self.service = service or ServiceData()  # the whole cluster is recovered: both are there
        self.wall_points: dict[str, str] = {}

    def base_backup(self) -> str:
        """Plain-format base backup of the primary; return its id."""
        backup_id = _new_id("base", self.clock)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.primary.own(self.work_dir, recursive=False)
        self.primary.base_backup(self.work_dir / backup_id, fmt="p")
        return backup_id

    def flush_archive(self) -> str:
        """Switch WAL and wait until the archiver has the segment; return the archived file."""
        db = PostgresDatabase("primary", self.primary.admin_dsn())
        wanted = db.switch_wal_file()

        def archived() -> Observation:
            done = db.archived_through()
            return Observation(ok=done is not None and done >= wanted, detail=f"archived {done}")

        wait_until(
            archived,
            clock=self.clock,
            timeout_s=30,
            poll_s=0.1,
            description=f"WAL segment {wanted} archived",
        )
        return wanted

    def recover(self, backup_id: str, request: RecoveryRequest, *, new_name: str) -> PitrOutcome:
        """Restore `backup_id` into `new_name`, replay to `request`, promote; report the point."""
        started = self.clock.now()
        backup = self.work_dir / backup_id
        if not backup.exists():
            raise DrillError(f"no base backup {backup_id} under {self.work_dir}; take one first")
        server = self.factory.from_backup(
            new_name, backup, request=request, archive_dir=self.primary.archive_dir
        )
        server, reached_target = self._start_recovery(server, request, new_name)
        db = PostgresDatabase(new_name, server.admin_dsn())
        self._wait_promoted(db)
        log = _read_log(server)
        reached_wall, reached_lsn = reached_point_from_log(log)
        status = db.recovery_status()
        excerpt = "\n".join(
            line for line in log.splitlines() if "recovery" in line or "redo" in line
        )[-2000:]
        if not reached_target:
            excerpt = f"TARGET NOT REACHED: {request.describe()}\n{excerpt}"
        return PitrOutcome(
            database=PostgresDatabase(new_name, self.service.dsn(server)),
            requested=request,
            requested_wall_iso=(
                request.time_iso or request.wall_iso or self.wall_points.get(request.name or "")
            ),
            reached_wall_iso=reached_wall,
            reached_lsn=reached_lsn,
            timeline=status.timeline,
            duration_s=self.clock.now() - started,
            log_excerpt=excerpt,
            target_reached=reached_target,
        )

    def _start_recovery(
        self, server: ServerInstance, request: RecoveryRequest, name: str
    ) -> tuple[ServerInstance, bool]:
        """Start and replay; when the archive ends before the target, recover to its end and say so.

        The archive running out can show two ways: `pg_ctl start` fails outright, or (with hot
        standby) the server accepts connections first and exits later, once replay finds the
        archive exhausted. Both end in a restart that recovers to the end of the archive.
        Returns the running instance and whether the requested target was reached.
        """
        try:
            server.start(timeout_s=self.timeout_s)
        except DrillError:
            if _NOT_REACHED not in _read_log(server):
                raise
            return self._recover_to_archive_end(name), False
        db = PostgresDatabase(name, server.admin_dsn())
        if self._wait_promoted(db, server):
            return server, True
        return self._recover_to_archive_end(name), False

    def _recover_to_archive_end(self, name: str) -> ServerInstance:
        retry = self.factory.reconfigure_recovery(
            name, request=None, archive_dir=self.primary.archive_dir
        )
        wait_until(
            lambda: Observation(retry.status() != "running", f"server {retry.status()}"),
            clock=self.clock,
            timeout_s=self.timeout_s,
            poll_s=0.05,
            description="server that stopped short of its target has exited",
        )
        retry.start(timeout_s=self.timeout_s)
        return retry

    def _wait_promoted(self, db: PostgresDatabase, server: ServerInstance | None = None) -> bool:
        """Wait until promoted (True) or, given `server`, until it stopped short (False)."""

        def settled() -> Observation:
            if server is not None and _NOT_REACHED in _read_log(server):
                return Observation(ok=True, detail="replay ended before the target")
            try:
                status = db.recovery_status()  # one connection per poll
            except DrillError as exc:
                return Observation(ok=False, detail=str(exc))
            return Observation(ok=not status.in_recovery, detail=f"in recovery: {status}")

        waited = wait_until(
            settled,
            clock=self.clock,
            timeout_s=self.timeout_s,
            poll_s=0.05,
            description="restored instance leaves recovery (promoted)",
        )
        return waited.last.detail != "replay ended before the target"

    def find_destructive_commits(self) -> list[DestructiveCommit]:
        """Scan the archive's newest contiguous WAL with pg_waldump for relation-dropping commits.

        A trainee or a drill without a harness-made restore point picks the LSN of the damaging
        commit and recovers with `RecoveryRequest(lsn=...)`, which stops just before it.
        """
        archive = self.primary.archive_dir
        names = sorted(p.name for p in archive.iterdir() if len(p.name) == 24 and p.name.isalnum())
        tail = _contiguous_tail(names)
        if not tail:
            raise DrillError(f"no archived WAL segment in {archive}; is archiving on?")
        output = self.primary.run_tool(
            "pg_waldump", ["-p", str(archive), "-r", "Transaction", tail[0], tail[-1]], check=False
        )
        return destructive_commits(output)

    def remember_point(self, name: str, wall_iso: str) -> None:
        """Remember the wall time of a named restore point (for the requested-point figure)."""
        self.wall_points[name] = wall_iso


def _read_log(server: ServerInstance) -> str:
    path = server.log_path
    return path.read_text(errors="replace") if path.exists() else ""
