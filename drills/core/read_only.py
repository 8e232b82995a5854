"""The SQL of a database made read-only for new sessions (RUNBOOKS.md §3.11 `dependency`).

Shared by the fault (`drills.faults.dependency`), the runbook's fix and `drills rollback`'s
replay (`drills.targets.adapters.data_rollbacks`), so all three say the same statement. Only
plain lower-case names are taken: the statement is built as text and a quoted name would need
escaping that nobody here needs.
"""

from __future__ import annotations

import re

from drills.core.errors import InjectionFailed

__all__ = [
    "READ_WRITE_OPTION",
    "plain_database_name",
    "read_only_set_sql",
    "reset_read_only_sql",
    "still_read_only_sql",
]

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
READ_WRITE_OPTION = "-c default_transaction_read_only=off"
"""libpq `options` for the admin's own sessions: a startup option outranks the database's
default, so the superuser that set it can still reset it (its sessions would be read-only too)."""


def plain_database_name(database: str) -> str:
    """`database` when it needs no quoting; InjectionFailed otherwise."""
    if not _NAME.match(database):
        raise InjectionFailed(
            f"database name {database!r} needs quoting; only plain lower-case names are taken"
        )
    return database


def read_only_set_sql(database: str) -> str:
    """The fault: new sessions of `database` default to read-only transactions."""
    return f"ALTER DATABASE {plain_database_name(database)} SET default_transaction_read_only = on"


def reset_read_only_sql(database: str) -> str:
    """The fix: new sessions default to read-write again."""
    return f"ALTER DATABASE {plain_database_name(database)} RESET default_transaction_read_only"


def still_read_only_sql(database: str) -> str:
    """A query with one row while the database's own default is still read-only."""
    return (
        "SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
        f"WHERE d.datname = '{plain_database_name(database)}' AND s.setrole = 0 "
        "AND 'default_transaction_read_only=on' = ANY(s.setconfig)"
    )
