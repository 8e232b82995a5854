"""A dependency the shop calls fails: its database turns read-only (RUNBOOKS.md §3.11 `dependency`).

The shop calls one dependency, its PostgreSQL (no Redis, no external API). The fault is the
one a failover to a read-only replica, or an operator's `default_transaction_read_only`, causes:
`ALTER DATABASE <db> SET default_transaction_read_only = on`, then the shop's own sessions
(application_name `shop`) are ended so its pools reconnect under the new default. `SELECT 1`
and `/readyz` still answer, so every pod stays Ready; reads are served; every order write fails
("cannot execute INSERT in a read-only transaction"). Part of the traffic fails, as §3.11 asks.

The fix (runbook step 3, the dependency) is `ALTER DATABASE <db> RESET
default_transaction_read_only`; sessions opened before it keep their read-only default, so the
pools must be renewed too (step 5, `kubectl rollout restart`). The rollback does both at the
database: it resets the default and, if it was still on, ends the shop's sessions once more.
`drills rollback` replays it from the entry (the admin DSN stored without its password); the
psycopg side is `drills.targets.adapters.data_rollbacks`.
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.core.errors import InjectionFailed
from drills.core.read_only import (
    plain_database_name,
    read_only_set_sql,
    reset_read_only_sql,
    still_read_only_sql,
)
from drills.core.safety import RollbackEntry
from drills.core.secrets import without_password
from drills.targets.ports.data import Database

__all__ = ["DATABASE_READ_ONLY", "ReadOnlyDatabase"]

DATABASE_READ_ONLY = "database-read-only"  # = data_rollbacks.DATABASE_READ_ONLY_KIND


@dataclass
class ReadOnlyDatabase:
    """Make `database` read-only for new sessions and end the shop's sessions (a superuser's act).

    `admin` is a superuser connection (ALTER DATABASE needs the owner or a superuser);
    `admin_dsn` is stored without its password for `drills rollback`.
    """

    admin: Database
    admin_dsn: str
    database: str
    application_name: str = "shop"
    kind: str = DATABASE_READ_ONLY

    @property
    def target(self) -> str:
        """The database the shop depends on."""
        return f"database/{self.database}"

    def describe(self) -> str:
        """One line for the plan."""
        return (
            f"ALTER DATABASE {self.database} SET default_transaction_read_only = on and end the "
            f"{self.application_name} sessions (reads served, writes refused)"
        )

    def rollback_entry(self) -> RollbackEntry:
        """Reset the default and renew the shop's sessions, on the stored admin DSN."""
        args = {
            "database": plain_database_name(self.database),
            "application_name": self.application_name,
            "dsn": without_password(self.admin_dsn),
        }
        return RollbackEntry(self.kind, self.target, args)

    def apply(self) -> None:
        """Set the default, then end the sessions opened under the old one."""
        if self.admin.execute(still_read_only_sql(self.database)):
            raise InjectionFailed(f"{self.target} is already read-only by default")
        self.admin.execute(read_only_set_sql(self.database))
        self.admin.terminate_application(self.application_name)

    def rollback(self) -> None:
        """Reset the default if still set and end the read-only sessions; idempotent."""
        if self.admin.execute(still_read_only_sql(self.database)):
            self.admin.execute(reset_read_only_sql(self.database))
            self.admin.terminate_application(self.application_name)
