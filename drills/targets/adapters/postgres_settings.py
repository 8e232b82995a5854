"""ServerSettings port over psycopg: ALTER SYSTEM, pg_reload_conf() and SHOW on PostgreSQL.

ALTER SYSTEM writes postgresql.auto.conf, which PostgreSQL reads after postgresql.conf, so a
value set here outranks the sandbox's own `drills.conf`; RESET removes the line again.
`pg_reload_conf()` only signals the postmaster, so a value is in force once a NEW session shows
it (the fault polls `show`). Needs a superuser DSN (the profile's admin DSN).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import psycopg
from psycopg import sql

from drills.targets.adapters.postgres import translate

__all__ = ["PostgresSettings"]

_OVERRIDDEN = (
    "SELECT DISTINCT name FROM pg_file_settings "
    "WHERE sourcefile LIKE '%%postgresql.auto.conf' AND name = ANY(%s) ORDER BY name"
)


class PostgresSettings:
    """The server-wide settings of the server `admin_dsn` reaches (superuser)."""

    def __init__(self, name: str, admin_dsn: str, *, connect_timeout_s: int = 3) -> None:
        self.name = name
        self._dsn = admin_dsn
        self.connect_timeout_s = connect_timeout_s

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        try:
            return psycopg.connect(
                self._dsn,
                autocommit=True,  # ALTER SYSTEM cannot run inside a transaction block
                connect_timeout=self.connect_timeout_s,
                application_name="drills-settings",
            )
        except psycopg.Error as exc:
            raise translate(exc, f"connect to server '{self.name}'") from exc

    def show(self, names: Sequence[str]) -> dict[str, str]:
        """`current_setting(name)` (what SHOW prints) for each name, in a new session."""
        found: dict[str, str] = {}
        with self._connect() as conn:
            for name in names:
                try:
                    row = conn.execute("SELECT current_setting(%s)", [name]).fetchone()
                except psycopg.Error as exc:
                    raise translate(exc, f"SHOW {name} on '{self.name}'") from exc
                found[name] = "" if row is None else str(row[0])
        return found

    def overridden(self, names: Sequence[str]) -> list[str]:
        """Names set in postgresql.auto.conf (pg_file_settings, superuser only)."""
        with self._connect() as conn:
            try:
                rows = conn.execute(_OVERRIDDEN, [list(names)]).fetchall()
            except psycopg.Error as exc:
                raise translate(exc, f"read pg_file_settings on '{self.name}'") from exc
        return [str(row[0]) for row in rows]

    def alter_system(self, values: Mapping[str, str]) -> None:
        """ALTER SYSTEM SET name = 'value' for each, then pg_reload_conf()."""
        statements = [
            sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(k), sql.Literal(v))
            for k, v in values.items()
        ]
        self._run(statements, "ALTER SYSTEM SET")

    def reset_system(self, names: Sequence[str]) -> None:
        """ALTER SYSTEM RESET name for each, then pg_reload_conf()."""
        statements = [sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(n)) for n in names]
        self._run(statements, "ALTER SYSTEM RESET")

    def _run(self, statements: Sequence[sql.Composed], what: str) -> None:
        with self._connect() as conn:
            try:
                for statement in statements:
                    conn.execute(statement)
                conn.execute("SELECT pg_reload_conf()")
            except psycopg.Error as exc:
                raise translate(exc, f"{what} on '{self.name}'") from exc
