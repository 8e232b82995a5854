"""Runbook recovery for lock waits (RUNBOOKS.md §3.10 step 4): terminate the blocker, only it.

The runbook's words are "terminate active queries older than 5 min" [003]. Run as written that
ends long backups and migrations (RUNBOOKS §5.2), and for a lock queue it ends the wrong
sessions: the waiters are the active ones, while a blocker sitting idle in its transaction is
not active at all, so the lock stays. The drills run the safe form: read `pg_locks` with
`pg_blocking_pids()`, find each root blocker (it blocks others and waits for nothing), and
`pg_terminate_backend` that pid alone. The server re-checks, in the statement that terminates,
that the pid is still the backend seen (same `backend_start`) and still blocks a waiter, so a
blocker that finished meanwhile, or a reused pid, is spared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from drills.core.locks import Blocker, LockSnapshot, Termination, terminated_from
from drills.targets.ports.locks import LockMonitor

__all__ = ["HAZARDOUS_FORM", "SAFE_FORM", "LockRecovery", "TerminateBlockers"]

SAFE_FORM = (
    "pg_terminate_backend(pid) of each root blocker found with pg_locks and pg_blocking_pids() "
    "only, re-checked at termination (same backend_start, still blocking a waiter)"
)
HAZARDOUS_FORM = (
    "terminate every active query older than 5 min ([003] § Issue 4), which RUNBOOKS §5.2 "
    "flags: it also ends backups, migrations and the waiters of a lock queue"
)


class LockRecovery(Protocol):
    """One way to end a lock queue: acts on a snapshot, says what it terminated."""

    @property
    def form(self) -> str:
        """The rule as the report prints it."""
        ...

    def __call__(self, snapshot: LockSnapshot) -> Termination:
        """Terminate what the rule selects from `snapshot`; report it against the snapshot."""
        ...


@dataclass
class TerminateBlockers:
    """The safe form: end each root blocker of `snapshot`, nothing else."""

    monitor: LockMonitor

    @property
    def form(self) -> str:
        """The safe form's rule."""
        return SAFE_FORM

    def __call__(self, snapshot: LockSnapshot) -> Termination:
        """Terminate each root blocker that is still the same backend and still blocking."""
        blockers = snapshot.blockers()
        states = {b.pid: (b.application_name, b.state, b.query) for b in blockers}
        ended: list[int] = []
        skipped: list[str] = []
        for blocker in blockers:
            if self._terminate(blocker):
                ended.append(blocker.pid)
            else:
                skipped.append(
                    f"pid {blocker.pid}: no longer the backend seen, or it blocks nobody now"
                )
        return Termination(
            SAFE_FORM, blockers, terminated_from(snapshot, ended, states=states), tuple(skipped)
        )

    def _terminate(self, blocker: Blocker) -> bool:
        if not blocker.backend_start:
            return False  # no identity to check against: never terminate a guess
        return self.monitor.terminate_blocker(blocker.pid, blocker.backend_start)
