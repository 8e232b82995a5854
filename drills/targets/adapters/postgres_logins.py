"""psycopg adapter for the LoginRoles port: login roles with a password, and real logins.

Passwords are hashed on this side (libpq's PQencryptPasswordConn, SCRAM-SHA-256) before any
statement is built, so the server, its log and `pg_stat_activity` only ever see the verifier,
never the password. Every statement runs through the superuser DSN the profile names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from drills.targets.adapters.postgres import PostgresDatabase, translate

__all__ = ["PostgresLogins"]

_LOGIN_APP = "drills-login-check"
_ALGORITHM = b"scram-sha-256"


def _verifier(conn: psycopg.Connection[Any], role: str, password: str) -> str:
    """The SCRAM verifier of `password` for `role`, computed by libpq on this side."""
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), _ALGORITHM).decode()


def _refusal(exc: psycopg.Error) -> str:
    """The server's words (libpq's last line, e.g. `FATAL: password authentication failed`)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[-1] if lines else type(exc).__name__
    return text[text.index("FATAL:") :] if "FATAL:" in text else text


class PostgresLogins:
    """Manage login roles through `admin` (a superuser) and try logins as anyone."""

    def __init__(self, admin: PostgresDatabase) -> None:
        self.admin = admin

    def _run(self, doing: str, statement: sql.Composed) -> None:
        with self.admin.connect() as conn:
            try:
                conn.execute(statement)
            except psycopg.Error as exc:
                raise translate(exc, doing) from exc

    def _count(self, doing: str, query: str, params: Sequence[Any]) -> int:
        with self.admin.connect() as conn:
            try:
                row = conn.execute(query, params).fetchone()
            except psycopg.Error as exc:
                raise translate(exc, doing) from exc
        return int(row[0]) if row else 0

    def create_login(self, role: str, password: str, *, member_of: str) -> None:
        """CREATE ROLE `role` LOGIN PASSWORD <verifier> IN ROLE `member_of`."""
        with self.admin.connect() as conn:
            statement = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(role),
                sql.Literal(_verifier(conn, role, password)),
                sql.Identifier(member_of),
            )
            try:
                conn.execute(statement)
            except psycopg.Error as exc:
                raise translate(exc, f"create login role {role}") from exc

    def set_password(self, role: str, password: str) -> None:
        """ALTER ROLE `role` PASSWORD <verifier> (sessions already open stay open)."""
        with self.admin.connect() as conn:
            statement = sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(_verifier(conn, role, password))
            )
            try:
                conn.execute(statement)
            except psycopg.Error as exc:
                raise translate(exc, f"change the password of role {role}") from exc

    def revoke_login(self, role: str) -> int:
        """ALTER ROLE `role` NOLOGIN PASSWORD NULL, then end its sessions; how many ended."""
        statement = sql.SQL("ALTER ROLE {} NOLOGIN PASSWORD NULL").format(sql.Identifier(role))
        self._run(f"revoke the login of role {role}", statement)
        return self._terminate(role)

    def _terminate(self, role: str) -> int:
        return self._count(
            f"end the sessions of role {role}",
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE usename = %s AND pid <> pg_backend_pid()",
            [role],
        )

    def drop_logins(self, roles: Sequence[str]) -> list[str]:
        """End each existing role's sessions and DROP it (it owns nothing: a member only)."""
        dropped = []
        for role in self.existing(roles):
            self._terminate(role)
            self._run(
                f"drop role {role}", sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role))
            )
            dropped.append(role)
        return dropped

    def existing(self, roles: Sequence[str]) -> list[str]:
        """Which of `roles` exist, in the order given."""
        if not roles:
            return []
        found = [
            role
            for role in roles
            if self._count(
                f"look up role {role}", "SELECT count(*) FROM pg_roles WHERE rolname = %s", [role]
            )
        ]
        return found

    def try_login(self, url: str, *, timeout_s: float = 2.0) -> tuple[bool, str]:
        """A real login with `url` and `SELECT 1`; the server's refusal when it fails."""
        try:
            with psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=max(1, int(timeout_s)),
                application_name=_LOGIN_APP,
            ) as conn:
                conn.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            return False, _refusal(exc)
        return True, "logged in; SELECT 1 answered"
