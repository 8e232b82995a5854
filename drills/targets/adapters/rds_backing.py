"""moto's RDS API with real data behind it: restores become local PostgreSQL instances.

moto answers the RDS API but holds no data, and finishes a restore at once. The RDS profile
(`[database] kind = "rds"`) must still restore real rows and really wait, so the sandbox runs
its moto server with this backing installed in the same process (`drills.moto_rds`): moto keeps
the records, status fields and errors; the backing gives them data and time.

- A record created with the tag `drills:sandbox-backing = source` stands for the sandbox's
  primary: its Endpoint is the primary's address, and its creation takes a base backup (what
  RDS's automated backup would hold; PITR replays the primary's WAL archive on top of it).
- `create-db-snapshot` of that record runs `pg_dump` inside an exported snapshot and tags the
  snapshot with the per-table row counts and checksums read in that same snapshot
  (`drills:fingerprint:<table>`), so a restore can be checked against what it should hold.
- `restore-db-instance-from-db-snapshot` and `restore-db-instance-to-point-in-time` leave the
  new record `creating` while a thread builds the local instance (pg_restore of the dump, or the
  base backup replayed to `RestoreTime`), and for at least the seconds the call's tag
  `drills:sandbox-creating-s` asks (a modelled duration, DEFAULT_CREATING_S otherwise). Then it
  turns `available` and its Endpoint is the local instance's address and port. A build that
  fails turns `failed`. The local instance is named like the RDS instance.
- `delete-db-instance` stops and deletes a restored instance's local server; deleting the
  source record never touches the primary, only the backing's base backups.

Why in moto's process rather than beside it: the drill then reads the Endpoint and the status
from the RDS API's own answers, exactly as on AWS, and nothing on the drill's side knows the
sandbox is there.
"""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from moto.rds.models import DBInstance, RDSBackend

from drills.core.clock import DrillClock, SystemClock
from drills.targets.adapters.localdb import LocalPitr, LocalSnapshotStore
from drills.targets.ports.data import RecoveryRequest, ServerFactory, ServerInstance

__all__ = [
    "BACKING_TAG",
    "CREATING_TAG",
    "DEFAULT_CREATING_S",
    "FINGERPRINT_TAG",
    "LOCAL_ID_TAG",
    "LocalRdsBacking",
    "install",
]

BACKING_TAG = "drills:sandbox-backing"
CREATING_TAG = "drills:sandbox-creating-s"
FINGERPRINT_TAG = "drills:fingerprint:"
LOCAL_ID_TAG = "drills:sandbox-dump"
DEFAULT_CREATING_S = 8.0
DELETE_JOIN_S = 120.0  # a build still running when its record is deleted is waited for this long


@dataclass
class _Build:
    """One restored instance being built (or built) locally."""

    name: str
    started_s: float
    creating_s: float
    thread: threading.Thread | None = None
    port: int | None = None
    error: str = ""


def _tags(raw: Any) -> dict[str, str]:
    """Tags as moto holds them ([{Key, Value}]), as a dict."""
    return {str(t.get("Key")): str(t.get("Value", "")) for t in raw or () if hasattr(t, "get")}


def _address(dsn: str) -> tuple[str, int] | None:
    """Host and port of a libpq URI."""
    parts = urlsplit(dsn)
    return None if parts.hostname is None or parts.port is None else (parts.hostname, parts.port)


def _creating_s(tags: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(tags.get(CREATING_TAG, DEFAULT_CREATING_S)))
    except ValueError:
        return DEFAULT_CREATING_S


def _iso(value: Any) -> str | None:
    """RestoreTime as moto's parser hands it (datetime or text), as UTC ISO text."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    text = str(value).replace("Z", "+00:00")
    return _iso(datetime.fromisoformat(text))


class LocalRdsBacking:
    """The data and the time behind moto's RDS records (see the module doc)."""

    def __init__(
        self,
        primary: ServerInstance,
        *,
        factory: ServerFactory,
        work_dir: Path,
        clock: DrillClock | None = None,
    ) -> None:
        self.primary = primary
        self.factory = factory
        self.work_dir = work_dir
        self.clock = clock or SystemClock()
        self.snapshots = LocalSnapshotStore(
            primary, factory=factory, work_dir=work_dir / "snapshots", clock=self.clock
        )
        self.pitr = LocalPitr(
            primary, factory=factory, work_dir=work_dir / "base", clock=self.clock
        )
        self.bases: list[tuple[str, str]] = []  # (wall ISO, base backup id), oldest first
        self.builds: dict[str, _Build] = {}
        self.sources: set[str] = set()
        self.lock = threading.Lock()

    # -- the source record ---------------------------------------------------------------------
    def source_created(self, instance_id: str) -> None:
        """The record standing for the primary: take its "automated" base backup now."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.primary.own(self.work_dir, recursive=False)
        wall = self.clock.wall().isoformat()
        backup_id = self.pitr.base_backup()
        with self.lock:
            self.sources.add(instance_id)
            self.bases.append((wall, backup_id))

    def snapshot(self, instance_id: str) -> dict[str, str]:
        """pg_dump of the primary; the tags that name the dump and its fingerprints."""
        if instance_id not in self.sources:
            return {}
        info = self.snapshots.take("dump")
        tags = {LOCAL_ID_TAG: info.snapshot_id}
        for table, fp in info.fingerprints.items():
            tags[f"{FINGERPRINT_TAG}{table}"] = f"{fp.rows}:{fp.checksum}"
        return tags

    def snapshot_deleted(self, local_id: str) -> None:
        """Remove the dump behind a deleted snapshot."""
        if local_id and "/" not in local_id:
            shutil.rmtree(self.snapshots.work_dir / local_id, ignore_errors=True)

    # -- restores ------------------------------------------------------------------------------
    def restore_snapshot(self, name: str, local_id: str, creating_s: float) -> None:
        """Build `name` from the dump `local_id` in a thread."""
        self._start(name, creating_s, lambda: self._from_dump(name, local_id))

    def restore_time(self, name: str, time_iso: str | None, creating_s: float) -> None:
        """Build `name` from the newest base backup before `time_iso`, replayed to it."""
        self._start(name, creating_s, lambda: self._from_wal(name, time_iso))

    def _from_dump(self, name: str, local_id: str) -> int | None:
        if not local_id:
            raise ValueError("the snapshot has no local dump (it was not taken of the source)")
        database = self.snapshots.restore(local_id, new_name=name)
        return self.factory.empty(database.name).port

    def _from_wal(self, name: str, time_iso: str | None) -> int | None:
        with self.lock:
            bases = list(self.bases)
        usable = [b for w, b in bases if time_iso is None or w <= time_iso]
        if not usable:
            raise ValueError(f"no automated backup older than {time_iso}")
        self.pitr.flush_archive()  # RDS ships its logs; here the archiver gets the segment
        outcome = self.pitr.recover(usable[-1], RecoveryRequest(time_iso=time_iso), new_name=name)
        if not outcome.target_reached:
            raise ValueError(f"replay ended before {time_iso}: {outcome.log_excerpt[-300:]}")
        return self.factory.empty(name).port

    def _start(self, name: str, creating_s: float, build: Callable[[], int | None]) -> None:
        record = _Build(name=name, started_s=self.clock.now(), creating_s=creating_s)

        def run() -> None:
            try:
                record.port = build()
            except Exception as exc:  # any failure is the record's `failed`
                record.error = f"{type(exc).__name__}: {exc}"

        record.thread = threading.Thread(target=run, name=f"rds-restore-{name}", daemon=True)
        with self.lock:
            self.builds[name] = record
        record.thread.start()

    def status(self, name: str) -> str | None:
        """The record's status as the backing sees it (None: not a restore of ours)."""
        record = self.builds.get(name)
        if record is None:
            return None
        if record.thread is not None and record.thread.is_alive():
            return "creating"
        if record.error or record.port is None:
            return "failed"
        if self.clock.now() - record.started_s < record.creating_s:
            return "creating"
        return "available"

    def endpoint(self, name: str) -> tuple[str, int] | None:
        """Where a source or an available restore answers."""
        if name in self.sources:
            return _address(self.primary.dsn())
        record = self.builds.get(name)
        if record is None or self.status(name) != "available" or record.port is None:
            return None
        # the restored servers listen where the primary does (the root's listen-host); its
        # directory may be gone already (a reinstate removes it before the record is deleted)
        primary = _address(self.primary.dsn())
        return None if primary is None else (primary[0], record.port)

    def deleted(self, name: str) -> None:
        """A record deleted: its local server goes (the source's: only the base backups)."""
        with self.lock:
            record = self.builds.pop(name, None)
            bases = list(self.bases) if name in self.sources else []
            self.sources.discard(name)
            if bases:
                self.bases.clear()
        for _, backup_id in bases:
            shutil.rmtree(self.pitr.work_dir / backup_id, ignore_errors=True)
        if record is None:
            return
        if record.thread is not None:
            record.thread.join(timeout=DELETE_JOIN_S)
        self.factory.empty(name).remove()


_local = threading.local()
_ORIGINAL: dict[str, Any] = {}
_INSTALLED: list[LocalRdsBacking] = []


def _backing() -> LocalRdsBacking:
    return _INSTALLED[-1]


def _call(name: str, *args: Any, **kwargs: Any) -> Any:
    """The method `name` of moto `name` (as it was before install)."""
    return _ORIGINAL[name](*args, **kwargs)


def _create_db_instance(self: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
    made: DBInstance = _call("create_db_instance", self, db_kwargs)
    source = _tags(db_kwargs.get("tags")).get(BACKING_TAG) == "source"
    if source and not getattr(_local, "restoring", False):
        _backing().source_created(made.db_instance_identifier)
    return made


def _create_db_snapshot(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
    made = _call("create_db_snapshot", self, *args, **kwargs)
    extra = _backing().snapshot(made.database.db_instance_identifier)
    made.tags = [*(made.tags or []), *({"Key": k, "Value": v} for k, v in extra.items())]
    return made


def _restoring(call: Callable[[], DBInstance]) -> DBInstance:
    """Moto's restore (its copy of the source is not a new source record), left `creating`."""
    _local.restoring = True
    try:
        made = call()
    finally:
        _local.restoring = False
    made.status = "creating"
    return made


def _from_snapshot(self: RDSBackend, from_snapshot_id: str, overrides: dict[str, Any]) -> Any:
    name = str(overrides["db_instance_identifier"])
    made = _restoring(
        lambda: _call("restore_db_instance_from_db_snapshot", self, from_snapshot_id, overrides)
    )
    found = self.describe_db_snapshots(None, db_snapshot_identifier=from_snapshot_id)[0]
    local_id = _tags(found.tags).get(LOCAL_ID_TAG, "")
    _backing().restore_snapshot(name, local_id, _creating_s(_tags(overrides.get("tags"))))
    return made


def _to_time(self: RDSBackend, source: str, target: str, overrides: dict[str, Any]) -> Any:
    name = "restore_db_instance_to_point_in_time"
    made = _restoring(lambda: _call(name, self, source, target, overrides))
    latest = overrides.get("use_latest_restorable_time")
    when = None if latest else _iso(overrides.get("restore_time"))
    _backing().restore_time(target, when, _creating_s(_tags(overrides.get("tags"))))
    return made


def _describe_db_instances(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
    found = _call("describe_db_instances", self, *args, **kwargs)
    for instance in found:
        _refresh(instance)
    return found


def _refresh(instance: DBInstance) -> None:
    """The backing's status and port on moto's record; a backing error never breaks describe."""
    name = instance.db_instance_identifier
    try:
        current = _backing().status(name)
        where = _backing().endpoint(name)
    except Exception as exc:  # the record keeps moto's fields; the reason goes to moto's log
        print(f"rds backing: {name}: {type(exc).__name__}: {exc}", file=sys.stderr)  # noqa: T201
        return
    if current is not None:
        instance.status = current
    if where is not None:
        instance.port = where[1]


def _delete_db_instance(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
    gone = _call("delete_db_instance", self, *args, **kwargs)
    _backing().deleted(gone.db_instance_identifier)
    return gone


def _delete_db_snapshot(self: RDSBackend, db_snapshot_identifier: str) -> Any:
    gone = _call("delete_db_snapshot", self, db_snapshot_identifier)
    _backing().snapshot_deleted(_tags(gone.tags).get(LOCAL_ID_TAG, ""))
    return gone


def _backed_address(self: DBInstance) -> str:
    try:
        where = _backing().endpoint(self.db_instance_identifier)
    except Exception:  # moto's own address rather than a failed answer
        where = None
    return where[0] if where is not None else str(_ORIGINAL["address"].fget(self))


_WRAPPERS: dict[str, Callable[..., Any]] = {
    "create_db_instance": _create_db_instance,
    "create_db_snapshot": _create_db_snapshot,
    "restore_db_instance_from_db_snapshot": _from_snapshot,
    "restore_db_instance_to_point_in_time": _to_time,
    "describe_db_instances": _describe_db_instances,
    "delete_db_instance": _delete_db_instance,
    "delete_db_snapshot": _delete_db_snapshot,
}


def install(backing: LocalRdsBacking) -> None:
    """Wrap moto's RDS backend methods so every record goes through `backing` (module doc)."""
    _INSTALLED.append(backing)
    if _ORIGINAL:
        return  # wrapped once; the newest backing answers
    for name, wrapper in _WRAPPERS.items():
        _ORIGINAL[name] = getattr(RDSBackend, name)
        setattr(RDSBackend, name, wrapper)
    _ORIGINAL["address"] = DBInstance.address
    setattr(DBInstance, "address", property(_backed_address))  # noqa: B010 - moto's class, patched
