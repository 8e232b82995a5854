"""psycopg adapter for the canary ledger's table (`drills.targets.ports.canary`).

The writer keeps one connection of its own (application_name `drills-canary`), inserts one row
per canary and commits it; a failed statement or a lost server closes the connection and the
next write connects again, with a short connect timeout, so an outage shows as failed attempts
rather than a stalled writer. The role needs CREATE on the schema (or the table's ownership),
INSERT and SELECT on the table, and DROP of it: on the sandbox the application role has them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from drills.core.canary import canary_key
from drills.core.secrets import without_password
from drills.targets.adapters.postgres import translate

__all__ = ["APPLICATION_NAME", "PostgresCanaryTable", "read_canaries"]

APPLICATION_NAME = "drills-canary"
_DDL = (
    "CREATE TABLE IF NOT EXISTS {} (seq bigint PRIMARY KEY, digest text NOT NULL, "
    "written_at timestamptz NOT NULL DEFAULT clock_timestamp())"
)


class PostgresCanaryTable:
    """One `drills_canary_<run>` table, written over the harness's own connection."""

    def __init__(self, dsn: str, name: str) -> None:
        self._dsn = dsn
        self._name = name
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def name(self) -> str:
        """The table's name."""
        return self._name

    def __repr__(self) -> str:
        return f"PostgresCanaryTable({without_password(self._dsn)!r}, {self._name!r})"

    def _connect(self, timeout_s: float) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self._dsn,
            application_name=APPLICATION_NAME,
            connect_timeout=max(1, round(timeout_s)),
            options=f"-c statement_timeout={max(1, round(timeout_s * 1000))}",
        )

    def create(self, comment: str) -> None:
        """Create the table and comment on it, in one transaction."""
        table = sql.Identifier(self._name)
        try:
            with self._connect(5.0) as conn:
                conn.execute(sql.SQL(_DDL).format(table))
                conn.execute(
                    sql.SQL("COMMENT ON TABLE {} IS {}").format(table, sql.Literal(comment))
                )
        except psycopg.Error as exc:
            raise translate(exc, f"create the canary table {self._name}") from exc

    def write(self, seq: int, digest: str, *, timeout_s: float) -> None:
        """Insert and commit canary `seq`; on any error close the connection and raise."""
        statement = sql.SQL("INSERT INTO {} (seq, digest) VALUES (%s, %s)").format(
            sql.Identifier(self._name)
        )
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect(timeout_s)
            self._conn.execute(statement, (seq, digest))
            self._conn.commit()
        except psycopg.Error as exc:
            self.close()
            raise translate(exc, f"write canary {seq}") from exc

    def close(self) -> None:
        """Close the writing connection (quietly: it may be dead already)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def drop(self) -> bool:
        """DROP TABLE IF EXISTS; False when there was none."""
        self.close()
        try:
            with self._connect(5.0) as conn:
                found = conn.execute("SELECT to_regclass(%s)", (self._name,)).fetchone()
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(self._name)))
        except psycopg.Error as exc:
            raise translate(exc, f"drop the canary table {self._name}") from exc
        return found is not None and found[0] is not None


def read_canaries(dsn: str, name: str) -> Mapping[str, tuple[str, int]] | None:
    """The canaries `name` holds in the database at `dsn`: key -> (digest, copies).

    None when the table is not there at all (a restore from before the drill began).
    """
    table = sql.Identifier(name)
    try:
        with psycopg.connect(dsn, application_name=APPLICATION_NAME, connect_timeout=5) as conn:
            found = conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()
            if found is None or found[0] is None:
                return None
            rows = conn.execute(
                sql.SQL("SELECT seq, min(digest), count(*) FROM {} GROUP BY seq").format(table)
            ).fetchall()
    except psycopg.Error as exc:
        raise translate(exc, f"read the canary table {name}") from exc
    return {canary_key(int(seq)): (str(digest), int(n)) for seq, digest, n in rows}
