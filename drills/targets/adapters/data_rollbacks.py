"""Rollback kinds of the data tier for `drills rollback` (entry point group `drills.rollbacks`).

Loaded in any process that replays the rollback ledger, so it imports psycopg only when a
pool-exhaustion entry is actually replayed: a machine without the `db` extra can still replay
other kinds.
"""

from __future__ import annotations

from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry

__all__ = [
    "CANARY_TABLE_KIND",
    "DATABASE_READ_ONLY_KIND",
    "DATA_DESTROYED_KIND",
    "POOL_EXHAUSTION_KIND",
    "TABLE_LOCK_KIND",
    "register_rollbacks",
]

POOL_EXHAUSTION_KIND = "db-pool-exhaustion"  # = drills.faults.pool.POOL_EXHAUSTION
DATA_DESTROYED_KIND = "data-destroyed"  # = drills.faults.data.DATA_DESTROYED
TABLE_LOCK_KIND = "table-lock"  # = drills.faults.locks.TABLE_LOCK
DATABASE_READ_ONLY_KIND = "database-read-only"  # = drills.faults.dependency.DATABASE_READ_ONLY
CANARY_TABLE_KIND = "canary-table"  # = drills.load.canary.CANARY_TABLE


def end_tagged_sessions(entry: RollbackEntry) -> Replayed:
    """Terminate the sessions tagged with the entry's application_name, on the entry's DSN.

    The DSN was stored without its password; libpq takes it from PGPASSWORD or ~/.pgpass.
    No tagged session left (ended already, or the server restarted) is `Replayed.ALREADY`.
    """
    from drills.targets.adapters.postgres import PostgresDatabase

    admin = PostgresDatabase(entry.target, str(entry.args["dsn"]))
    ended = admin.terminate_application(str(entry.args["application_name"]))
    return Replayed.RESTORED if ended else Replayed.ALREADY


def end_lock_holder(entry: RollbackEntry) -> Replayed:
    """Terminate the one backend that held the table lock: its pid, backend_start and name.

    A pid reused by another session since has another backend_start, so it is spared; a
    holder already gone (ended with its harness, or by the recovery) is `Replayed.ALREADY`.
    """
    from drills.targets.adapters.postgres import PostgresDatabase
    from drills.targets.adapters.postgres_locks import terminate_identity
    from drills.targets.ports.locks import BackendIdentity

    args = entry.args
    identity = BackendIdentity(
        int(str(args["pid"])), str(args["backend_start"]), str(args["application_name"])
    )
    admin = PostgresDatabase(entry.target, str(args["dsn"]))
    return Replayed.RESTORED if terminate_identity(admin, identity) else Replayed.ALREADY


def reset_read_only(entry: RollbackEntry) -> Replayed:
    """Reset the database's read-only default and end the shop's read-only sessions.

    Nothing to do (`Replayed.ALREADY`) when the default is no longer set: the runbook's fix,
    or an earlier replay, reset it.
    """
    from psycopg.conninfo import make_conninfo

    from drills.core.read_only import READ_WRITE_OPTION, reset_read_only_sql, still_read_only_sql
    from drills.targets.adapters.postgres import PostgresDatabase

    database = str(entry.args["database"])
    dsn = make_conninfo(str(entry.args["dsn"]), options=READ_WRITE_OPTION)  # outranks the fault
    admin = PostgresDatabase(entry.target, dsn)
    if not admin.execute(still_read_only_sql(database)):
        return Replayed.ALREADY
    admin.execute(reset_read_only_sql(database))
    admin.terminate_application(str(entry.args["application_name"]))
    return Replayed.RESTORED


def nothing_to_undo(entry: RollbackEntry) -> Replayed:
    """Destroyed data is recovered by a restore, not by a rollback."""
    del entry
    return Replayed.ALREADY


def drop_canary_table(entry: RollbackEntry) -> Replayed:
    """Drop the canary table a crashed drill left (its DSN was stored without the password)."""
    from drills.targets.adapters.canary import PostgresCanaryTable

    table = PostgresCanaryTable(str(entry.args["dsn"]), str(entry.args["table"]))
    return Replayed.RESTORED if table.drop() else Replayed.ALREADY


def register_rollbacks(registry: RollbackRegistry) -> None:
    """Register the data-tier kinds."""
    registry.register(POOL_EXHAUSTION_KIND, end_tagged_sessions)
    registry.register(DATA_DESTROYED_KIND, nothing_to_undo)
    registry.register(TABLE_LOCK_KIND, end_lock_holder)
    registry.register(DATABASE_READ_ONLY_KIND, reset_read_only)
    registry.register(CANARY_TABLE_KIND, drop_canary_table)
