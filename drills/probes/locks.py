"""Lock probes (RUNBOOKS.md §3.10 `lock`): conditions on `pg_locks` a drill waits on.

`lock_waits` is the diagnosis of step 3 as an alert (someone waits behind a root blocker);
`lock_queue_drained` is what step 5 needs after the blocker is gone: nobody waits any more.
"""

from __future__ import annotations

from drills.core.conditions import Condition, Observation
from drills.targets.ports.locks import LockMonitor

__all__ = ["lock_queue_drained", "lock_waits"]


def lock_waits(monitor: LockMonitor) -> Condition:
    """Some backend waits for a lock a root blocker holds (`pg_locks WHERE NOT granted`)."""

    def check() -> Observation:
        blockers = monitor.snapshot().blockers()
        if not blockers:
            return Observation(ok=False, detail="no backend waits behind a blocker in pg_locks")
        waiting = sum(len(b.waiters) for b in blockers)
        return Observation(
            ok=True, detail=f"{waiting} backend(s) wait behind {blockers[0].describe()}"
        )

    return Condition("lock waits in pg_locks", check)


def lock_queue_drained(monitor: LockMonitor) -> Condition:
    """No backend waits for a lock: every waiter got its lock and went on."""

    def check() -> Observation:
        waiters = monitor.snapshot().waiters()
        if not waiters:
            return Observation(ok=True, detail="no backend waits for a lock")
        shown = "; ".join(w.describe() for w in waiters[:3])
        return Observation(ok=False, detail=f"{len(waiters)} backend(s) still wait: {shown}")

    return Condition("lock queue drained", check)
