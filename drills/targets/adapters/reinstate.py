"""REINSTATE: after a data-recovery drill, leave the environment as the drill found it.

A `snapshot-restore` or `pitr` drill ends with the service on a NEW database instance. Every
drill after it expects the service on the primary with its data, so the destroy fault's rollback
(recorded on disk before the fault acts, replayable by `drills rollback`) runs `reinstate()`:

1. copy the recovered data back into the primary: `pg_dump -Fc` from the restored instance when
   the service runs on it, else the snapshot dump taken at the start of the drill, then
   `pg_restore --clean --if-exists --single-transaction` into the primary (one transaction, so
   writes that still reach the primary wait for it instead of racing the reload);
2. point the service's database URL back at the primary, `rollout restart`, wait for the rollout;
3. stop and remove the restored instance (its server process and its files).

Around those, for the fault that kept a copy of its table (`kept_rows`): after step 1 the rows of
that copy whose key the primary lacks go back in, and rows the fault altered get their content
back (what the restore could not bring back); after
step 2, the rows the service wrote to the restored instance once it had been dumped are drained
into the primary. When the primary still has the table (the DROP never committed, or the fault
was a DELETE or UPDATE), step 1 leaves it alone rather than load the snapshot over newer rows.

All of it happens in the service's own database and is pointed back at with the service's own
role (`database` and `role`, read from its DSN; empty in entries recorded before they existed,
which then mean the instance's application database and role, the demo shop's, as before).

Each part is idempotent, so a replay after a half-finished rollback completes the work. Step 1
is not idempotent by itself (a second pg_restore of the snapshot dump would wipe the writes made
since the first), so once it succeeds a marker `.reinstate-<token>.refilled` under
`postgres_root` records it and a replay skips it. Entries recorded before the token existed get
a fresh one, so they behave as before. The
`ReinstatePlan` is the rollback entry's data: paths and names, and the primary URL without its
password (libpq and the service take the password from their own configuration on replay).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path

from drills.core.clock import DrillClock
from drills.core.conditions import Observation
from drills.core.errors import DrillError
from drills.core.safety import JsonScalar
from drills.core.waiting import wait_until
from drills.targets.adapters.localdb import ServiceData
from drills.targets.ports.config import ServiceConfig
from drills.targets.ports.data import ServerInstance

__all__ = [
    "REINSTATE_KIND",
    "ReinstatePlan",
    "Reinstated",
    "copy_missing_rows",
    "reinstate",
]

REINSTATE_KIND = "data-reinstate"


@dataclass(frozen=True)
class ReinstatePlan:
    """Everything the rollback needs, as JSON scalars (stored before the fault acts)."""

    postgres_root: str  # where the local instances live (<root>/<name>/)
    restored: str  # name of the instance the drill restores into
    fallback_dump: str  # pg_dump -Fc file of the snapshot taken at the drill's start ("" none)
    primary_url: str  # the service's URL of the primary, password removed
    kubeconfig: str
    context: str
    namespace: str
    deployment: str
    secret: str = "shop-database"
    key: str = "url"
    primary: str = "primary"  # name of the primary instance
    kept_rows: str = ""  # binary COPY of the destroyed table taken as the fault acted ("" none)
    kept_table: str = "orders"  # the table those rows go back into
    kept_key: str = "order_key"  # a row whose key is there already is not put back
    kept_skip: str = "id"  # generated column: the table's own default fills it
    database: str = ""  # the service's database on each instance ("": the instance's own)
    role: str = ""  # the role the service connects as ("": the instance's application role)
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:12])  # names the refill marker

    @property
    def service(self) -> ServiceData:
        """Which database the data lives in and the service's role (defaults: the shop's)."""
        return ServiceData(self.database, self.role)

    def refilled_marker(self) -> Path:
        """The file whose presence says step 1 (refill the primary) already succeeded."""
        return Path(self.postgres_root) / f".reinstate-{self.token}.refilled"

    def stranded_rows(self) -> Path:
        """Copy of the primary's table taken before a refill from the restored instance.

        Writes that reached the primary after the fault and before the service moved (a DELETE
        or UPDATE leaves the table writable) are not in the restored instance; the refill would
        drop them, so their rows are copied aside first and put back after.
        """
        return Path(self.postgres_root) / f".reinstate-{self.token}.stranded"

    def args(self) -> dict[str, JsonScalar]:
        """The rollback entry's args."""
        return dict(asdict(self))

    @classmethod
    def from_args(cls, args: Mapping[str, JsonScalar]) -> ReinstatePlan:
        """Rebuild from a rollback entry's args; says which key is missing."""
        fields = cls.__dataclass_fields__
        missing = [n for n, f in fields.items() if n not in args and f.default is MISSING]
        if missing:
            raise DrillError(f"data-reinstate rollback entry lacks {missing}; it cannot replay")
        return cls(**{name: str(args[name]) for name in fields if name in args})


@dataclass(frozen=True)
class Reinstated:
    """What the reinstate did, for the report."""

    source: str  # "restored instance <name>", "snapshot dump <path>" or "nothing"
    repointed: bool
    removed: bool
    duration_s: float
    put_back: int | None = None  # rows the refill lacked, added back (None: nothing to add)

    def summary(self) -> str:
        """One line."""
        repointed = "service repointed at the primary" if self.repointed else "service untouched"
        removed = "restored instance removed" if self.removed else "no restored instance"
        kept = (
            ""
            if self.put_back is None
            else f"; {self.put_back} row(s) the refill lacked or had altered put back"
        )
        return f"primary refilled from {self.source}{kept}; {repointed}; {removed}"

    @property
    def did_anything(self) -> bool:
        """False when every part found its work done already (nothing was changed)."""
        changed = not self.source.startswith("nothing") or bool(self.put_back)
        return changed or self.repointed or self.removed


def reinstate(  # noqa: PLR0913 - keyword-only parts of one rollback
    plan: ReinstatePlan,
    *,
    primary: ServerInstance,
    restored: ServerInstance,
    config: ServiceConfig,
    clock: DrillClock,
    primary_url: str | None = None,
    rollout_timeout_s: float = 300.0,
) -> Reinstated:
    """Refill the primary, repoint the service at it, remove the restored instance.

    `primary_url` is the full URL (with its password) when the caller holds it; a replay from
    the ledger uses the plan's password-free one.
    """
    started = clock.now()
    current = config.database_url()
    serving = (
        restored.status() == "running"
        and current is not None
        and current == plan.service.dsn(restored)
    )
    marker = plan.refilled_marker()
    stranded = plan.stranded_rows()
    if marker.exists():
        source = "nothing (an earlier run of this rollback refilled it)"
    else:
        if serving and _table_present(plan, primary):
            _copy_out(primary, plan, stranded)  # what only the primary has, before the refill
        source = _refill_primary(plan, primary=primary, restored=restored, use_restored=serving)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(source + "\n", encoding="utf-8")
    put_back = _added(
        _put_back(stranded, plan, primary, repair=False) if stranded.exists() else None,
        _put_back_kept(plan, primary),
    )
    repointed = _point_back(
        config, current, primary_url or plan.primary_url, clock, rollout_timeout_s
    )
    if serving and restored.status() == "running":
        put_back = _added(put_back, _drain_restored(plan, primary, restored))
    removed = restored.status() != "absent"
    restored.remove()
    return Reinstated(source, repointed, removed, clock.now() - started, put_back)


def _refill_primary(
    plan: ReinstatePlan, *, primary: ServerInstance, restored: ServerInstance, use_restored: bool
) -> str:
    """pg_restore into the primary from the restored instance, or else the snapshot dump.

    The restored instance is the source only when the service runs on it (it then holds every
    write since the cut-over); a restore that never went live may be partial, so the dump of
    the drill's start is used instead.
    """
    dump = Path(plan.postgres_root) / f".reinstate-{plan.restored}.pgc"
    if use_restored:
        restored.run_tool(
            "pg_dump", ["-Fc", "-Z", "1", "-f", str(dump), "-d", plan.service.admin_dsn(restored)]
        )
        source = f"restored instance {plan.restored}"
    elif plan.kept_rows and _table_present(plan, primary):
        # the DROP never committed (killed between the record and the fault, or before its
        # COMMIT): the primary is whole, and the snapshot dump over it would wipe newer rows
        # a DELETE or UPDATE leaves it too: the kept copy repairs those rows afterwards
        return f"nothing (the primary still has {plan.kept_table}; the kept copy repairs it)"
    elif plan.fallback_dump and Path(plan.fallback_dump).exists():
        dump, source = Path(plan.fallback_dump), f"snapshot dump {plan.fallback_dump}"
    else:
        return "nothing (the service never moved and no snapshot dump is left)"
    try:
        primary.run_tool(
            "pg_restore",
            [
                "--clean",
                "--if-exists",
                "--single-transaction",
                "-d",
                plan.service.admin_dsn(primary),
                str(dump),
            ],
        )
    finally:
        if dump.name.startswith(".reinstate-"):
            dump.unlink(missing_ok=True)
    return source


def _put_back_kept(plan: ReinstatePlan, primary: ServerInstance) -> int | None:
    """Add the rows copied aside as the fault acted whose key the primary lacks; drop the copy.

    The restore brings back the snapshot (or the point before the damage) plus what users wrote
    since; the rows acknowledged between the snapshot and the fault are what a real restore
    loses, and the drill measured that loss already. Putting them back leaves staging with every
    row it had. Idempotent: the file goes once the rows are in, and a key present is skipped.
    """
    path = Path(plan.kept_rows) if plan.kept_rows else None
    if path is None or not path.exists():
        return None
    return _put_back(path, plan, primary)


def _table_present(plan: ReinstatePlan, primary: ServerInstance) -> bool:
    """The primary has the table the fault drops (psql answers `t`)."""
    query = f"SELECT to_regclass('public.{_literal(_quoted(plan.kept_table))}') IS NOT NULL"
    said = primary.run_tool(
        "psql", ["-X", "-tAq", "-d", plan.service.admin_dsn(primary), "-c", query]
    )
    return said.strip() == "t"


def _drain_restored(plan: ReinstatePlan, primary: ServerInstance, restored: ServerInstance) -> int:
    """Rows the service wrote to the restored instance after it was dumped, into the primary.

    The dump is taken while the service still writes to the restored instance; until the
    rollout back to the primary has finished, its writes keep landing there. Once it has, the
    restored instance's rows whose key the primary lacks are copied over, before it goes.
    """
    path = Path(plan.postgres_root) / f".reinstate-{plan.restored}.drain"
    _copy_out(restored, plan, path)
    return _put_back(path, plan, primary, repair=False)


def copy_missing_rows(plan: ReinstatePlan, primary: ServerInstance, source: ServerInstance) -> int:
    """Rows of `source` whose key the primary lacks, into the primary; returns how many.

    The failback of region-failover (RUNBOOKS.md §3.17): what users wrote in the backup region
    goes home before the backup region is taken down. Rows the primary has are left alone.
    """
    return _drain_restored(plan, primary, source)


def _copy_out(server: ServerInstance, plan: ReinstatePlan, path: Path) -> None:
    """Binary COPY of the plan's table on `server` to `path`."""
    copy = f"\\copy {_quoted(plan.kept_table)} TO '{_literal(path)}' WITH (FORMAT binary)"
    target = plan.service.admin_dsn(server)
    server.run_tool("psql", ["-X", "-v", "ON_ERROR_STOP=1", "-d", target, "-c", copy])


def _added(first: int | None, second: int | None) -> int | None:
    """The sum of two row counts where None means 'nothing to add'."""
    return None if first is None and second is None else (first or 0) + (second or 0)


def _put_back(
    path: Path, plan: ReinstatePlan, primary: ServerInstance, *, repair: bool = True
) -> int:
    """Give the primary the rows of the binary COPY `path`: add missing ones, repair altered ones.

    One psql transaction: load the rows into a temporary table shaped like the target; with
    `repair` (the copy is the truth from before the fault), a row whose key the primary has
    with other content (an UPDATE without WHERE) gets the copy's content back; a row whose key
    the primary lacks (a DROP or DELETE) is inserted with the generated column left to its
    default; commit. The file goes once that committed. The count returned is the rows
    inserted plus the rows repaired.
    """
    table, key, skip = _quoted(plan.kept_table), _quoted(plan.kept_key), plan.kept_skip
    columns = (
        " FROM information_schema.columns WHERE table_schema = 'public'"
        f" AND table_name = '{_literal(plan.kept_table)}'"
        f" AND column_name <> '{_literal(skip)}'"
    )
    script = "\n".join(
        [
            "BEGIN;",
            f"CREATE TEMP TABLE drills_kept (LIKE {table}) ON COMMIT DROP;",
            f"\\copy drills_kept FROM '{_literal(path)}' WITH (FORMAT binary)",
            "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) AS cols,"
            " string_agg('o.' || quote_ident(column_name), ', ' ORDER BY ordinal_position)"
            " AS ocols,"
            " string_agg('k.' || quote_ident(column_name), ', ' ORDER BY ordinal_position)"
            f" AS kcols{columns} \\gset",
            f"UPDATE {table} o SET (:cols) = ROW(:kcols) FROM drills_kept k"
            f" WHERE o.{key} = k.{key} AND ROW(:ocols) IS DISTINCT FROM ROW(:kcols);"
            if repair
            else "",
            f"INSERT INTO {table} (:cols) SELECT :cols FROM drills_kept k"
            f" WHERE NOT EXISTS (SELECT 1 FROM {table} o WHERE o.{key} = k.{key});",
            "COMMIT;",
        ]
    )
    script_file = path.with_suffix(".sql")  # psql mixes SQL and \copy only from a file
    script_file.write_text(script + "\n", encoding="utf-8")
    try:
        said = primary.run_tool(
            "psql",
            [
                "-X",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                plan.service.admin_dsn(primary),
                "-f",
                str(script_file),
            ],
        )
    finally:
        script_file.unlink(missing_ok=True)
    path.unlink(missing_ok=True)
    counts = re.findall(r"^(?:UPDATE|INSERT 0) (\d+)$", said, re.MULTILINE)
    return sum(int(n) for n in counts)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: object) -> str:
    return str(text).replace("'", "''")


def _point_back(
    config: ServiceConfig, current: str | None, url: str, clock: DrillClock, timeout_s: float
) -> bool:
    """Set the URL back and restart, unless the service already uses it; wait for the rollout."""
    if current is None or current == url:  # never repointed, or already back: leave it
        return False
    config.set_database_url(url)
    config.restart()

    def finished() -> Observation:
        state = config.rollout()
        return Observation(ok=state.complete, detail=f"rollout: {state.describe()}")

    wait_until(
        finished,
        clock=clock,
        timeout_s=timeout_s,
        poll_s=0.5,
        description=f"rollout after pointing {config.where} back at the primary",
    )
    return True
