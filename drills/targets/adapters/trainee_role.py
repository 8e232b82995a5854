"""A PostgreSQL role of its own for a certification trainee, whose every statement is logged.

`create_trainee_role(admin_dsn, role)` creates (or resets) a LOGIN role and sets
`log_statement = 'all'` on that role only, so the server log holds the trainee's statements and
nobody else's. In the sandbox the role is a superuser: recovery needs it (terminating other
roles' sessions, restoring, promoting) and only superusers may use the reserved slots when the
connection pool is exhausted. `trainee_dsn` turns the admin DSN into the trainee's (same host,
port and database; the sandbox trusts loopback, so no password). `drop_trainee_role` ends the
role's sessions, hands what it created to the connecting admin and drops it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from drills.core.errors import ConfigError
from drills.targets.adapters.postgres import translate

__all__ = ["create_trainee_role", "drop_trainee_role", "trainee_dsn"]

_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _checked(role: str) -> str:
    if not _ROLE.fullmatch(role):
        raise ConfigError(
            f"trainee role {role!r} is not a plain PostgreSQL name; use lower-case letters, "
            "digits and underscores (e.g. trainee_alice)"
        )
    return role


def create_trainee_role(admin_dsn: str, role: str, *, superuser: bool = True) -> None:
    """Create `role` (LOGIN) or reset an existing one; log every statement it runs.

    Raises DrillError (TransientError when the server is unreachable) with what failed.
    """
    name = sql.Identifier(_checked(role))
    power = sql.SQL("SUPERUSER" if superuser else "NOSUPERUSER")
    exists = "SELECT 1 FROM pg_roles WHERE rolname = %s"
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
            verb = "ALTER" if conn.execute(exists, (role,)).fetchone() else "CREATE"
            conn.execute(sql.SQL(verb + " ROLE {} LOGIN {}").format(name, power))
            conn.execute(sql.SQL("ALTER ROLE {} SET log_statement = 'all'").format(name))
    except psycopg.Error as exc:
        raise translate(exc, f"creating the trainee role {role}") from exc


def drop_trainee_role(admin_dsn: str, role: str) -> None:
    """End `role`'s sessions, give what it owns in the DSN's database to the admin, drop it.

    Objects the role owns in other databases make DROP ROLE fail: the error says so.
    """
    name = sql.Identifier(_checked(role))
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                return
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(name))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(name))
            conn.execute(sql.SQL("DROP ROLE {}").format(name))
    except psycopg.Error as exc:
        raise translate(exc, f"dropping the trainee role {role}") from exc


def trainee_dsn(admin_dsn: str, role: str) -> str:
    """The admin's libpq URI with the trainee's role as user (password dropped)."""
    parts = urlsplit(admin_dsn)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise ConfigError(
            "the admin DSN must be a URI (postgresql://user@host:port/db) to derive the "
            "trainee's DSN from it"
        )
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, f"{_checked(role)}@{host}", parts.path, parts.query, ""))
