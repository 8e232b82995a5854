"""Ports for lock waits (RUNBOOKS.md §3.10 `lock`): read `pg_locks`, end a backend, hold a lock.

`LockMonitor` is the operator's view through a superuser DSN (every role's backends are
visible); `LockHolder` is the fault's own session, which opens a transaction, takes a table
lock and keeps it until it is released or terminated. The psycopg adapters are in
`drills.targets.adapters.postgres_locks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from drills.core.locks import LockSnapshot

__all__ = ["BackendIdentity", "LockHolder", "LockMonitor"]


@dataclass(frozen=True)
class BackendIdentity:
    """One backend, for good: a pid with its `backend_start` (pids are reused)."""

    pid: int
    backend_start: str
    application_name: str

    def describe(self) -> str:
        """`pid 700 (drills-lock-1a2b, started 2026-12-05T04:30:00.123456Z)`."""
        return f"pid {self.pid} ({self.application_name}, started {self.backend_start})"


class LockMonitor(Protocol):
    """Reads `pg_locks` and ends a backend, with rights over every role's sessions."""

    def snapshot(self) -> LockSnapshot:
        """Every lock of every client backend but the asking one, with `pg_blocking_pids`."""
        ...

    def session_states(self) -> dict[int, tuple[str, str, str]]:
        """Map pid to (application_name, state, query) of the database's other client backends."""
        ...

    def terminate_blocker(self, pid: int, backend_start: str) -> bool:
        """End backend `pid` only if it is still the one seen and still blocks a waiter.

        The same backend: started at `backend_start`. True when it was terminated.
        """
        ...

    def terminate(self, pids: list[int]) -> list[int]:
        """pg_terminate_backend each pid as it stands, no questions asked; the pids ended."""
        ...

    def end_backend(self, identity: BackendIdentity) -> bool:
        """End exactly this backend (pid, backend_start and application_name must match)."""
        ...

    def alive(self, identities: list[BackendIdentity]) -> list[BackendIdentity]:
        """Which of these backends still run (same pid and backend_start)."""
        ...

    def statement_stats(self, limit: int = 3) -> list[str] | None:
        """The slowest statements from pg_stat_statements; None when it is not installed."""
        ...


class LockHolder(Protocol):
    """The fault's own session: an open transaction holding a table lock."""

    application_name: str

    def connect(self) -> BackendIdentity:
        """Open the session (no transaction yet) and say which backend it is."""
        ...

    def lock(self, table: str, mode: str, *, timeout_s: float) -> None:
        """Begin a transaction and `LOCK TABLE table IN mode MODE`; keep it open.

        Raises InjectionFailed when the lock is not granted within `timeout_s`.
        """
        ...

    def release(self) -> None:
        """Roll the transaction back and close the session (idempotent; fine if terminated)."""
        ...
