"""psycopg adapters for the lock ports: the operator's view of `pg_locks`, and the fault's session.

`PostgresLockMonitor` reads through a superuser DSN, so it sees every role's backends.
Terminations re-check at the moment they act, in one statement: the pid must still be the
backend started at the recorded `backend_start` (a reused pid belongs to someone else) and,
for the safe form, must still block a waiting backend.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors, sql

from drills.core.errors import DrillError, InjectionFailed
from drills.core.locks import LockRow, LockSnapshot
from drills.targets.adapters.postgres import PostgresDatabase, translate
from drills.targets.ports.locks import BackendIdentity

__all__ = ["PostgresLockHolder", "PostgresLockMonitor", "terminate_identity"]

_ISO = '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\''
_STARTED = f"to_char(a.backend_start AT TIME ZONE 'UTC', {_ISO})"
_SNAPSHOT = (
    f"SELECT l.pid, coalesce(a.application_name, ''), {_STARTED}, coalesce(a.state, ''), "
    "l.locktype, coalesce(c.relname, ''), l.mode, l.granted, "
    "CASE WHEN l.granted THEN '{}'::int[] ELSE pg_blocking_pids(l.pid) END, "
    "extract(epoch FROM clock_timestamp() - l.waitstart), left(coalesce(a.query, ''), 300) "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "LEFT JOIN pg_class c ON c.oid = l.relation "
    "WHERE a.backend_type = 'client backend' AND l.pid <> pg_backend_pid() "
    "AND (NOT l.granted OR l.locktype IN ('relation', 'transactionid')) "
    "ORDER BY l.pid, l.granted"
)
_STATES = (
    "SELECT pid, coalesce(application_name, ''), coalesce(state, ''), "
    "left(coalesce(query, ''), 300) FROM pg_stat_activity "
    "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
    "AND datname = current_database()"
)
# CASE fixes the order: identity (and, for the safe form, "still blocks someone") is checked
# before anything is terminated.
_TERMINATE_BLOCKER = (
    f"SELECT CASE WHEN {_STARTED} = %s AND EXISTS (SELECT 1 FROM pg_locks w "
    "WHERE NOT w.granted AND a.pid = ANY(pg_blocking_pids(w.pid))) "
    "THEN pg_terminate_backend(a.pid) ELSE false END "
    "FROM pg_stat_activity a WHERE a.pid = %s"
)
_TERMINATE_IDENTITY = (
    f"SELECT CASE WHEN {_STARTED} = %s AND a.application_name = %s "
    "THEN pg_terminate_backend(a.pid) ELSE false END "
    "FROM pg_stat_activity a WHERE a.pid = %s"
)
_ALIVE = f"SELECT a.pid, {_STARTED} FROM pg_stat_activity a WHERE a.pid = ANY(%s::int[])"


class PostgresLockMonitor:
    """The LockMonitor port over a superuser DSN."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    def _rows(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.database.connect(application_name="drills-probe") as conn:
            try:
                return conn.execute(query.encode(), params or []).fetchall()
            except psycopg.Error as exc:
                raise translate(exc, f"read locks on '{self.database.name}'") from exc

    def snapshot(self) -> LockSnapshot:
        """`pg_locks` x `pg_stat_activity`: waits, relation and transaction locks held."""
        return LockSnapshot.of(_lock_row(row) for row in self._rows(_SNAPSHOT))

    def session_states(self) -> dict[int, tuple[str, str, str]]:
        """Map pid to (application_name, state, query) of this database's client backends."""
        return {int(r[0]): (str(r[1]), str(r[2]), str(r[3])) for r in self._rows(_STATES)}

    def terminate_blocker(self, pid: int, backend_start: str) -> bool:
        """End `pid` only if it is the same backend and still blocks a waiter."""
        rows = self._rows(_TERMINATE_BLOCKER, [backend_start, pid])
        return bool(rows and rows[0][0])

    def terminate(self, pids: list[int]) -> list[int]:
        """pg_terminate_backend each pid, unchecked (the hazardous form's tool)."""
        return self.database.terminate(pids)

    def end_backend(self, identity: BackendIdentity) -> bool:
        """End exactly this backend (pid, backend_start and application_name must match)."""
        return terminate_identity(self.database, identity)

    def alive(self, identities: list[BackendIdentity]) -> list[BackendIdentity]:
        """Which of these backends still run: same pid, same backend_start."""
        if not identities:
            return []
        running = {
            (int(r[0]), str(r[1])) for r in self._rows(_ALIVE, [[i.pid for i in identities]])
        }
        return [i for i in identities if (i.pid, i.backend_start) in running]

    def statement_stats(self, limit: int = 3) -> list[str] | None:
        """The slowest statements by mean time; None when pg_stat_statements is missing."""
        installed = self._rows("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        if not installed:
            return None
        rows = self._rows(
            "SELECT round(mean_exec_time::numeric, 1), calls, left(query, 120) "
            "FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT %s",
            [limit],
        )
        return [f"{mean} ms mean over {calls} calls: {query}" for mean, calls, query in rows]


def _lock_row(row: tuple[Any, ...]) -> LockRow:
    pid, app, started, state, locktype, relation, mode, granted, blocked, wait, query = row
    return LockRow(
        pid=int(pid),
        application_name=str(app),
        backend_start=str(started or ""),
        state=str(state),
        locktype=str(locktype),
        relation=str(relation),
        mode=str(mode),
        granted=bool(granted),
        blocked_by=tuple(int(p) for p in blocked or ()),
        wait_s=None if wait is None else float(wait),
        query=str(query),
    )


def terminate_identity(database: PostgresDatabase, identity: BackendIdentity) -> bool:
    """End exactly this backend (pid, backend_start and application_name must all match)."""
    with database.connect(application_name="drills-probe") as conn:
        try:
            rows = conn.execute(
                _TERMINATE_IDENTITY.encode(),
                [identity.backend_start, identity.application_name, identity.pid],
            ).fetchall()
        except psycopg.Error as exc:
            raise translate(exc, f"terminate {identity.describe()}") from exc
    return bool(rows and rows[0][0])


class PostgresLockHolder:
    """The LockHolder port: one session, tagged with `application_name`, that holds a lock."""

    def __init__(self, dsn: str, *, application_name: str, connect_timeout_s: int = 3) -> None:
        self._dsn = dsn
        self.application_name = application_name
        self.connect_timeout_s = connect_timeout_s
        self._conn: psycopg.Connection[Any] | None = None

    def connect(self) -> BackendIdentity:
        """Open the session and read its pid and backend_start (then end that transaction)."""
        try:
            self._conn = psycopg.connect(
                self._dsn,
                connect_timeout=self.connect_timeout_s,
                application_name=self.application_name,
            )
            row = self._conn.execute(
                f"SELECT pg_backend_pid(), {_STARTED} FROM pg_stat_activity a "
                "WHERE a.pid = pg_backend_pid()".encode()
            ).fetchone()
            self._conn.rollback()
        except psycopg.Error as exc:
            raise translate(exc, "open the lock holder's session") from exc
        if row is None:
            raise DrillError("the lock holder's session does not see itself in pg_stat_activity")
        return BackendIdentity(int(row[0]), str(row[1]), self.application_name)

    def lock(self, table: str, mode: str, *, timeout_s: float) -> None:
        """`LOCK TABLE` in a transaction left open; InjectionFailed if not granted in time."""
        if self._conn is None:
            raise DrillError("connect() the lock holder before lock()")
        statement = sql.SQL("LOCK TABLE {} IN {} MODE").format(
            sql.Identifier(table), sql.SQL(_mode(mode))
        )
        try:
            self._conn.execute(
                "SELECT set_config('lock_timeout', %s, true)", [f"{int(timeout_s * 1000)}ms"]
            )
            self._conn.execute(statement)
        except errors.LockNotAvailable as exc:
            raise InjectionFailed(
                f"LOCK TABLE {table} IN {mode} MODE was not granted within {timeout_s:g} s "
                f"({exc}); another session holds a conflicting lock, nothing was blocked"
            ) from exc
        except psycopg.Error as exc:
            raise translate(exc, f"lock table {table}") from exc

    def release(self) -> None:
        """Roll back and close; a session the server terminated is already gone."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.rollback()
        except psycopg.Error:
            pass  # terminated: the server rolled it back already
        finally:
            conn.close()


_MODES = frozenset(
    {
        "ACCESS SHARE",
        "ROW SHARE",
        "ROW EXCLUSIVE",
        "SHARE UPDATE EXCLUSIVE",
        "SHARE",
        "SHARE ROW EXCLUSIVE",
        "EXCLUSIVE",
        "ACCESS EXCLUSIVE",
    }
)


def _mode(mode: str) -> str:
    wanted = " ".join(mode.upper().split())
    if wanted not in _MODES:
        raise DrillError(f"unknown lock mode {mode!r}; one of: {', '.join(sorted(_MODES))}")
    return wanted
