"""Runbook recovery for pool exhaustion (RUNBOOKS §3.5 step 3): reset the pools if users fail.

After the idle backends are terminated, a service whose pool replaces broken connections by
itself serves users again without help. One whose pool keeps dead or leaked connections does
not: the runbook then resets the pools with `kubectl rollout restart deployment/backend` [003].
`reset_pools_if_users_fail` waits (through the drill's guarded wait, so the kill switch still
stops it) up to `within_s` for users to be served again, and restarts the workload only when
they are not.
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.core.conditions import ConditionLike
from drills.core.drill import Drill
from drills.targets.ports.workload import Workload

__all__ = ["PoolReset", "reset_pools_if_users_fail"]


@dataclass(frozen=True)
class PoolReset:
    """What the step did: `restarted` with the stamp written, or users back after `waited_s`."""

    restarted: bool
    waited_s: float
    stamp: str = ""
    seen: str = ""

    def summary(self, workload: str) -> str:
        """One line for the report."""
        if not self.restarted:
            return f"users served again after {self.waited_s:.1f} s without a pool reset"
        return (
            f"users still failing {self.waited_s:.1f} s after the termination ({self.seen}); "
            f"kubectl rollout restart deployment/{workload} (restartedAt {self.stamp})"
        )


def reset_pools_if_users_fail(
    drill: Drill, workload: Workload, users_served: ConditionLike, *, within_s: float
) -> PoolReset:
    """Wait up to `within_s` for `users_served`; `rollout restart` the workload if it never held.

    Raises DrillAborted when the kill switch trips during the wait; the restart itself is the
    runbook's recovery, not a fault, so it has no rollback.
    """
    start_s = drill.clock.now()
    back = drill.wait_until(
        users_served, timeout_s=within_s, description="users served", raise_on_timeout=False
    )
    waited_s = drill.clock.now() - start_s
    if back.met:
        return PoolReset(restarted=False, waited_s=waited_s, seen=back.last.detail)
    stamp = workload.rollout_restart()
    return PoolReset(restarted=True, waited_s=waited_s, stamp=stamp, seen=back.last.detail)
