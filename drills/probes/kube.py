"""Probes on a workload: conditions a drill waits on (compose with `&` and `|`)."""

from __future__ import annotations

from drills.core.conditions import Condition, Observation
from drills.targets.ports.workload import Workload

__all__ = ["endpoints_listed", "no_pod_waiting", "replicas_ready"]


def replicas_ready(workload: Workload, count: int | None = None) -> Condition:
    """All desired replicas (or `count`) Ready and not terminating."""

    def check() -> Observation:
        want = workload.desired_replicas() if count is None else count
        ready = sum(1 for p in workload.pods() if p.ready and not p.deleting)
        return Observation(ok=ready >= want > 0, detail=f"{ready}/{want} pods ready")

    return Condition(f"replicas_ready({workload.name})", check)


def endpoints_listed(workload: Workload, minimum: int = 1) -> Condition:
    """The Service lists at least `minimum` ready addresses (traffic has somewhere to go)."""

    def check() -> Observation:
        ready = workload.ready_endpoints()
        return Observation(ok=ready >= minimum, detail=f"{ready} ready endpoints")

    return Condition(f"endpoints_listed({workload.name})", check)


def no_pod_waiting(workload: Workload, reason: str = "CrashLoopBackOff") -> Condition:
    """No pod of the workload is waiting with `reason`."""

    def check() -> Observation:
        stuck = [p.name for p in workload.pods() if p.waiting_reason == reason]
        return Observation(ok=not stuck, detail=f"{reason}: {', '.join(stuck) or 'none'}")

    return Condition(f"no_pod_waiting({workload.name}, {reason})", check)
