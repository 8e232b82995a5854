"""An open transaction holding an exclusive lock on a hot table (RUNBOOKS.md §3.10 `lock`).

The harness's own session (application_name `drills-lock-<hex>`, so it is recognisable in
`pg_stat_activity` and the crash matrix sees it if it outlives its drill) begins a transaction,
takes `LOCK TABLE orders IN EXCLUSIVE MODE` and stays idle in that transaction: reads go on,
every write to the table queues behind it, as behind a migration left open.

The session is opened before the rollback entry is written, so the entry names the backend
exactly: its pid with its `backend_start` and the application_name. `drills rollback`, from any
process, terminates that one backend and nothing else (a reused pid has another start time).
The psycopg side of the replay is `drills.targets.adapters.data_rollbacks`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from drills.core.errors import DrillError
from drills.core.safety import RollbackEntry
from drills.core.secrets import without_password
from drills.targets.ports.locks import BackendIdentity, LockHolder, LockMonitor

__all__ = ["TABLE_LOCK", "TableLock", "lock_application_name"]

TABLE_LOCK = "table-lock"


def lock_application_name() -> str:
    """A unique tag for one fault's session (the `drills-` prefix marks the harness's own)."""
    return f"drills-lock-{uuid.uuid4().hex[:8]}"


@dataclass
class TableLock:
    """Hold `LOCK TABLE table IN mode MODE` in an open transaction until rolled back.

    `monitor` (a superuser's view) ends the backend in the rollback; the entry stores
    `admin_dsn` without its password for `drills rollback`. `connect()` must run before
    `rollback_entry()`: the entry names the backend. The fault has landed once the lock is
    granted; InjectionFailed when it is not granted within `timeout_s` (someone else holds a
    conflicting lock: nothing was blocked by us).
    """

    holder: LockHolder
    monitor: LockMonitor
    admin_dsn: str
    database: str
    table: str = "orders"
    mode: str = "EXCLUSIVE"
    timeout_s: float = 5.0
    kind: str = TABLE_LOCK
    identity: BackendIdentity | None = None

    @property
    def target(self) -> str:
        """The table whose writers queue."""
        return f"database/{self.database}/table/{self.table}"

    def describe(self) -> str:
        """One line for the plan."""
        return (
            f"open a transaction as {self.holder.application_name} and hold LOCK TABLE "
            f"{self.table} IN {self.mode} MODE on {self.database} (writes queue, reads go on)"
        )

    def connect(self) -> BackendIdentity:
        """Open the holder's session (no lock yet) and remember which backend it is."""
        self.identity = self.holder.connect()
        return self.identity

    def rollback_entry(self) -> RollbackEntry:
        """The backend to terminate, named exactly; DrillError before `connect()`."""
        if self.identity is None:
            raise DrillError("TableLock.connect() must run before its rollback is recorded")
        return RollbackEntry(
            self.kind,
            self.target,
            {
                "application_name": self.identity.application_name,
                "pid": self.identity.pid,
                "backend_start": self.identity.backend_start,
                "dsn": without_password(self.admin_dsn),
            },
        )

    def apply(self) -> None:
        """Take the lock in a transaction left open."""
        self.holder.lock(self.table, self.mode, timeout_s=self.timeout_s)

    def rollback(self) -> None:
        """Roll back and close the session, then end its backend if it still runs (idempotent).

        The second half covers a session whose client side is gone but whose backend is not
        (a half-open connection): it ends exactly the recorded backend, never another.
        """
        self.holder.release()
        if self.identity is not None:
            self.monitor.end_backend(self.identity)
