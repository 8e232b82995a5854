"""psycopg adapter for the Database and SessionHolder ports (any PostgreSQL reachable by DSN).

The same code serves the sandbox's local server, a testcontainers PostgreSQL and a profile's DSN.
Checksums: md5 of the table's rows as text, aggregated in primary-key order, so two tables with
the same rows in the same keys have the same fingerprint whatever their physical layout.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from drills.core.clock import SystemClock
from drills.core.conditions import Observation
from drills.core.dataloss import ORDERS_TABLE_DDL, payload_hash
from drills.core.errors import DrillError, TransientError
from drills.core.services import KEY_ONLY, ServiceLedger
from drills.core.waiting import wait_until
from drills.targets.ports.data import (
    ConnectionLimits,
    RecoveryPoint,
    RecoveryStatus,
    SessionInfo,
    TableFingerprint,
)

__all__ = [
    "LedgerDatabase",
    "PostgresDatabase",
    "PostgresSessionHolder",
    "fingerprint_table",
    "insert_order",
    "translate",
]

_PROBE_APP = "drills-probe"
_CLIENTS = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
# Without superuser or pg_read_all_stats a role sees other roles' sessions with backend_type
# NULL: the server's count is then its own sessions only (ask as the admin for the server's), and
# the database's count takes those hidden rows for client backends.
_LIMITS_QUERY = (
    "SELECT current_setting('max_connections')::int, "
    "current_setting('superuser_reserved_connections')::int, "
    f"({_CLIENTS}), current_user, "
    "(SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user), "
    f"({_CLIENTS} AND usename = current_user), current_database(), "
    "(SELECT datconnlimit FROM pg_database WHERE datname = current_database()), "
    "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND coalesce(backend_type, 'client backend') = 'client backend')"
)


def _own_limit(value: object) -> int | None:
    """A role's or database's CONNECTION LIMIT; -1 (and a superuser's NULL) mean none."""
    if value is None or int(str(value)) < 0:
        return None
    return int(str(value))


def translate(exc: psycopg.Error, doing: str) -> DrillError:
    """Map a psycopg error to the harness's errors (transient when retrying may help)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.OperationalError):
        return TransientError(f"{doing}: {text}; the server may be down, full or restarting")
    return DrillError(f"{doing}: {text}")


class PostgresDatabase:
    """The Database port over psycopg 3."""

    def __init__(self, name: str, dsn: str, *, connect_timeout_s: int = 3) -> None:
        self.name = name
        self._dsn = dsn
        self.connect_timeout_s = connect_timeout_s

    def dsn(self) -> str:
        """Connection string (never log it: a profile's may carry a password)."""
        return self._dsn

    @contextmanager
    def connect(self, *, application_name: str = _PROBE_APP) -> Iterator[psycopg.Connection[Any]]:
        """An autocommit connection, closed on exit."""
        try:
            conn = psycopg.connect(
                self._dsn,
                autocommit=True,
                connect_timeout=self.connect_timeout_s,
                application_name=application_name,
            )
        except psycopg.Error as exc:
            raise translate(exc, f"connect to database '{self.name}'") from exc
        try:
            yield conn
        finally:
            conn.close()

    def _rows(self, query: str | sql.Composed, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            try:
                return conn.execute(query, params).fetchall()
            except psycopg.Error as exc:
                raise translate(exc, f"query on '{self.name}'") from exc

    # -- reachability ----------------------------------------------------------------------------
    def probe(self, *, timeout_s: float = 2.0) -> tuple[bool, str]:
        """Connect and `SELECT 1`; the refusal text is the detail when it fails."""
        try:
            with psycopg.connect(
                self._dsn,
                autocommit=True,
                connect_timeout=max(1, int(timeout_s)),
                application_name=_PROBE_APP,
            ) as conn:
                conn.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            return False, str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
        return True, "SELECT 1 answered"

    def is_reachable(self) -> bool:
        """True when `SELECT 1` succeeds right now."""
        return self.probe()[0]

    def execute(self, statement: str) -> int:
        """Run one statement in its own transaction; return the affected row count."""
        with self.connect() as conn:
            try:
                return conn.execute(statement.encode()).rowcount
            except psycopg.Error as exc:
                raise translate(exc, f"execute on '{self.name}'") from exc

    def execute_keeping(self, statement: str, table: str, path: Path) -> int:
        """Lock `table`, COPY it to `path` (fsync'd), run `statement`; one transaction."""
        name = sql.Identifier(table)
        with self.connect() as conn:
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(name))
                    _copy_out(conn, name, path)
                    return conn.execute(statement.encode()).rowcount
            except psycopg.Error as exc:
                raise translate(exc, f"execute on '{self.name}'") from exc

    # -- content ---------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        """User tables of the public schema, sorted."""
        rows = self._rows(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        return [str(row[0]) for row in rows]

    def fingerprint(self, tables: Sequence[str] | None = None) -> dict[str, TableFingerprint]:
        """Row counts and md5 checksums in primary-key order, in one connection."""
        names = list(tables) if tables is not None else self.tables()
        result: dict[str, TableFingerprint] = {}
        with self.connect() as conn:
            for table in names:
                result[table] = fingerprint_table(conn, table)
        return result

    def orders_present(self) -> dict[str, tuple[str, int]]:
        """order_key -> (hash of the row's content, copies) for the ledger comparison.

        The hash is recomputed from the stored item and quantity (not read from the
        payload_hash column), so a row altered after it was acknowledged shows as changed.
        """
        rows = self._rows("SELECT order_key, item, quantity FROM orders ORDER BY id")
        present: dict[str, tuple[str, int]] = {}
        for key, item, quantity in rows:
            digest = payload_hash(str(key), str(item), int(quantity))
            _, copies = present.get(str(key), (digest, 0))
            present[str(key)] = (digest, copies + 1)
        return present

    def ensure_orders_table(self) -> None:
        """Create the shop's orders table if it is missing (the shared DDL)."""
        self.execute(ORDERS_TABLE_DDL)

    # -- sessions --------------------------------------------------------------------------------
    def sessions(self) -> list[SessionInfo]:
        """Client backends now connected, except the one asking."""
        rows = self._rows(
            "SELECT pid, coalesce(application_name, ''), coalesce(state, ''), "
            "extract(epoch FROM clock_timestamp() - coalesce(state_change, backend_start)), "
            "extract(epoch FROM clock_timestamp() - query_start), coalesce(datname, '') "
            "FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND pid <> pg_backend_pid() ORDER BY pid"
        )
        return [
            SessionInfo(
                pid=int(pid),
                application_name=str(app),
                state=str(state),
                state_age_s=float(state_age),
                query_age_s=None if query_age is None else float(query_age),
                datname=str(datname),
            )
            for pid, app, state, state_age, query_age, datname in rows
        ]

    def limits(self) -> ConnectionLimits:
        """How full the server is, and this DSN's role and database limits (-1 = none).

        Counts are client backends, including the one asking. `in_use` counts every role's
        only when this DSN's role is a superuser (or has pg_read_all_stats).
        """
        rows = self._rows(_LIMITS_QUERY)
        max_connections, reserved, in_use, role, role_limit, role_in_use = rows[0][:6]
        database, database_limit, database_in_use = rows[0][6:]
        return ConnectionLimits(
            int(max_connections),
            int(reserved),
            int(in_use),
            role=str(role),
            role_limit=_own_limit(role_limit),
            role_in_use=int(role_in_use),
            database=str(database),
            database_limit=_own_limit(database_limit),
            database_in_use=int(database_in_use),
        )

    def terminate(
        self, pids: Sequence[int], *, only_state: str | None = None, older_than_s: float = 0.0
    ) -> list[int]:
        """pg_terminate_backend each pid (re-checking state when asked); return those ended."""
        if not pids:
            return []
        if only_state is None:
            rows = self._rows(
                "SELECT pid FROM unnest(%s::int[]) AS pid WHERE pg_terminate_backend(pid)",
                [list(pids)],
            )
        else:
            # CASE fixes the evaluation order: the state is checked before anything is killed.
            rows = self._rows(
                "SELECT pid, CASE WHEN state = %s AND state_change < clock_timestamp() - "
                "make_interval(secs => %s) THEN pg_terminate_backend(pid) ELSE false END "
                "FROM pg_stat_activity WHERE pid = ANY(%s::int[])",
                [only_state, older_than_s, list(pids)],
            )
            return [int(row[0]) for row in rows if row[1]]
        return [int(row[0]) for row in rows]

    def terminate_application(self, application_name: str) -> list[int]:
        """Terminate every session tagged with `application_name` (crash-safe fault rollback)."""
        rows = self._rows(
            "SELECT pid, CASE WHEN application_name = %s AND pid <> pg_backend_pid() "
            "THEN pg_terminate_backend(pid) ELSE false END FROM pg_stat_activity "
            "WHERE application_name = %s",
            [application_name, application_name],
        )
        return [int(row[0]) for row in rows if row[1]]

    # -- recovery --------------------------------------------------------------------------------
    def recovery_status(self) -> RecoveryStatus:
        """Recovery flag, timeline, last replayed commit time and lag (RUNBOOKS §3.7 step 4)."""
        rows = self._rows(
            "SELECT pg_is_in_recovery(), "
            "CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint())"
            " ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int "
            "END, "
            "to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', "
            '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\'), '
            "extract(epoch FROM now() - pg_last_xact_replay_timestamp())"
        )
        in_recovery, timeline, replay_iso, lag = rows[0]
        return RecoveryStatus(
            in_recovery=bool(in_recovery),
            timeline=int(timeline),
            last_replay_iso=None if replay_iso is None else str(replay_iso),
            replay_lag_s=None if lag is None else float(lag),
        )

    def create_restore_point(self, name: str) -> RecoveryPoint:
        """Named restore point, then a WAL switch so it is archived promptly."""
        rows = self._rows(
            "SELECT pg_create_restore_point(%s)::text, "
            "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            [name],
        )
        self._rows("SELECT pg_switch_wal()")
        lsn, wall = rows[0]
        return RecoveryPoint(name=name, lsn=str(lsn), wall_iso=str(wall))

    def wall_now_iso(self) -> str:
        """The server's clock, UTC ISO-8601 (recovery targets are in server time)."""
        rows = self._rows(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
            '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')'
        )
        return str(rows[0][0])

    def switch_wal(self) -> str:
        """Close the current WAL segment so the archiver picks it up; return the LSN."""
        return str(self._rows("SELECT pg_switch_wal()::text")[0][0])

    def switch_wal_file(self) -> str:
        """Close the current WAL segment; return the name of the segment just completed."""
        return str(self._rows("SELECT pg_walfile_name(pg_switch_wal())")[0][0])

    def archived_through(self) -> str | None:
        """Last WAL file the archiver reported done (pg_stat_archiver)."""
        rows = self._rows("SELECT last_archived_wal FROM pg_stat_archiver")
        return None if rows[0][0] is None else str(rows[0][0])

    def promote(self, *, wait_s: int = 60) -> bool:
        """pg_promote(): end recovery on a standby; True when it finished in time.

        Asked without waiting (`pg_promote(false)`), then polled with short queries: a session
        waiting inside `pg_promote(true, ...)` holds a snapshot, and a standby that still has
        received WAL to apply (a delayed or lagging one) cancels it as a recovery conflict
        after `max_standby_streaming_delay` (30 s), failing a promotion that was going well.
        """
        self._rows("SELECT pg_promote(false)")

        def left_recovery() -> Observation:
            try:
                in_recovery = bool(self._rows("SELECT pg_is_in_recovery()")[0][0])
            except DrillError as exc:
                return Observation(ok=False, detail=str(exc))
            return Observation(ok=not in_recovery, detail=f"in recovery: {in_recovery}")

        waited = wait_until(
            left_recovery,
            clock=SystemClock(),
            timeout_s=wait_s,
            poll_s=0.05,
            raise_on_timeout=False,
            description=f"{self.name} promoted (out of recovery)",
        )
        return waited.met

    def accepts_writes(self) -> tuple[bool, str]:
        """Insert a check order and commit, read it back on a new connection, then delete it."""
        key = f"drills-write-check-{uuid.uuid4().hex[:12]}"
        try:
            with self.connect() as conn:
                insert_order(conn, key, "write-check", 1)
            found = self._rows("SELECT count(*) FROM orders WHERE order_key = %s", [key])[0][0]
            self._rows("DELETE FROM orders WHERE order_key = %s RETURNING id", [key])
        except psycopg.Error as exc:
            return False, str(translate(exc, f"write a check row on '{self.name}'"))
        except DrillError as exc:
            return False, str(exc)
        if int(found) != 1:
            return False, f"the committed check row {key} was read back {found} times"
        return True, f"wrote, committed and read back order {key} (then deleted it)"


class LedgerDatabase(PostgresDatabase):
    """A service's database whose acknowledged writes live in `[services.<name>.ledger]`.

    `orders_present()` (the name the drills and the write ledger use) reads the ledger's table:
    key -> (the stored payload hash, copies). Unlike the demo shop's, the hash is the column the
    service stored, so a row changed without its hash shows as present, not altered. A ledger
    without `hash_column` reads keys only and gives every row the hash `KEY_ONLY` (the traffic
    records its writes with it), so only presence and copies are judged.
    """

    def __init__(self, name: str, dsn: str, ledger: ServiceLedger, **kwargs: Any) -> None:
        super().__init__(name, dsn, **kwargs)
        self.ledger = ledger

    def orders_present(self) -> dict[str, tuple[str, int]]:
        """The ledger table's rows: key -> (payload hash, copies)."""
        column = self.ledger.hash_column
        query = sql.SQL("SELECT {}, {} FROM {}").format(
            sql.Identifier(self.ledger.key_column),
            sql.Literal(KEY_ONLY) if column is None else sql.Identifier(column),
            sql.Identifier(*self.ledger.table.split(".")),
        )
        present: dict[str, tuple[str, int]] = {}
        for key, digest in self._rows(query):
            _, copies = present.get(str(key), (str(digest), 0))
            present[str(key)] = (str(digest), copies + 1)
        return present

    def accepts_writes(self) -> tuple[bool, str]:
        """A row committed in a table of the harness's own, read back on a new connection.

        The service's table has columns only the service knows how to fill, so the check
        writes beside it (its own role, its own database) and drops its table afterwards.
        """
        key = uuid.uuid4().hex[:12]
        table = sql.Identifier(f"drills_write_check_{key}")
        try:
            with self.connect() as conn:
                conn.execute(sql.SQL("CREATE TABLE {} (k text PRIMARY KEY)").format(table))
                conn.execute(sql.SQL("INSERT INTO {} VALUES (%s)").format(table), [key])
            count = sql.SQL("SELECT count(*) FROM {} WHERE k = %s").format(table)
            found = self._rows(count, [key])[0][0]
        except psycopg.Error as exc:
            return False, str(translate(exc, f"write a check row on '{self.name}'"))
        except DrillError as exc:
            return False, str(exc)
        finally:
            with contextlib.suppress(DrillError, psycopg.Error):
                self.execute(f'DROP TABLE IF EXISTS "drills_write_check_{key}"')
        if int(found) != 1:
            return False, f"the committed check row {key} was read back {found} times"
        return True, f"wrote, committed and read back a check row in a table of its own ({key})"


def fingerprint_table(conn: psycopg.Connection[Any], table: str) -> TableFingerprint:
    """Row count and md5 of the rows in primary-key order, on an open connection."""
    keys = conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY a.attnum",
        [table],
    ).fetchall()
    order = (
        sql.SQL(", ").join(sql.Identifier(str(k[0])) for k in keys) if keys else sql.SQL("t::text")
    )
    query = sql.SQL(
        "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY {order})), '') "
        "FROM {table} AS t"
    ).format(order=order, table=sql.Identifier(table))
    row = conn.execute(query).fetchone()
    if row is None:
        raise DrillError(f"no answer when fingerprinting table {table}")
    return TableFingerprint(table=table, rows=int(row[0]), checksum=str(row[1]))


def insert_order(
    conn: psycopg.Connection[Any], order_key: str, item: str, quantity: int
) -> tuple[int, str]:
    """Insert one order and COMMIT; return (id, payload_hash) only once acknowledged."""
    digest = payload_hash(order_key, item, quantity)
    row = conn.execute(
        "INSERT INTO orders (order_key, item, quantity, payload_hash) "
        "VALUES (%s, %s, %s, %s) RETURNING id",
        [order_key, item, quantity, digest],
    ).fetchone()
    conn.commit()
    if row is None:
        raise DrillError("INSERT ... RETURNING gave no row")
    return int(row[0]), digest


class PostgresSessionHolder:
    """Holds sessions open like a leaking application: some idle, some idle in transaction."""

    def __init__(self, dsn: str, *, application_name: str, connect_timeout_s: int = 3) -> None:
        self._dsn = dsn
        self.application_name = application_name
        self.connect_timeout_s = connect_timeout_s
        self._conns: list[psycopg.Connection[Any]] = []
        self.refusal: str | None = None

    def hold(self, count: int, *, idle_in_transaction_every: int = 2) -> int:
        """Open up to `count` sessions (stops at the first refusal); return how many opened."""
        opened = 0
        for index in range(count):
            try:
                conn = psycopg.connect(
                    self._dsn,
                    connect_timeout=self.connect_timeout_s,
                    application_name=self.application_name,
                    autocommit=not _in_transaction(index, idle_in_transaction_every),
                )
                conn.execute("SELECT 1")  # leaves a transaction open unless autocommit
            except psycopg.OperationalError as exc:
                self.refusal = str(exc).strip().splitlines()[-1]
                break
            self._conns.append(conn)
            opened += 1
        return opened

    def held(self) -> int:
        """Sessions still open from this side."""
        return sum(1 for conn in self._conns if not conn.closed)

    def release(self) -> None:
        """Close every held session; a session the server already killed is fine."""
        for conn in self._conns:
            try:
                conn.close()
            except psycopg.Error:
                continue
        self._conns.clear()


def _in_transaction(index: int, every: int) -> bool:
    return every > 0 and index % every == every - 1


def _copy_out(conn: psycopg.Connection[Any], table: sql.Identifier, path: Path) -> None:
    """COPY `table` in binary to `path` (written beside it, fsync'd, then renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    query = sql.SQL("COPY {} TO STDOUT (FORMAT binary)").format(table)
    with temporary.open("wb") as out, conn.cursor().copy(query) as copy:
        for block in copy:
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)
