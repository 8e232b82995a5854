"""Port for a Kubernetes workload (a Deployment and its pods), as drills see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["PodState", "Workload"]


@dataclass(frozen=True)
class PodState:
    """What a drill needs to know about one pod."""

    name: str
    phase: str
    ready: bool
    restarts: int = 0
    waiting_reason: str = ""
    last_terminated_reason: str = ""
    node: str = ""
    ip: str = ""
    deleting: bool = False


class Workload(Protocol):
    """A Deployment-like workload: its pods, desired and ready replicas."""

    namespace: str
    name: str

    def pods(self) -> list[PodState]:
        """Current pods selected by the workload's label selector."""
        ...

    def desired_replicas(self) -> int:
        """spec.replicas of the workload."""
        ...

    def ready_replicas(self) -> int:
        """status.readyReplicas (0 when absent)."""
        ...

    def delete_pod(self, name: str, *, grace_period_s: int | None = None) -> None:
        """Delete one pod (grace 0 forces it)."""
        ...
