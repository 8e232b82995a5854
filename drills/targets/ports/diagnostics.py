"""Port for the runbook's first look at a slow service: `kubectl top pods`, `kubectl logs`.

RUNBOOKS.md §3.10 steps 1 and 2: CPU per pod from the metrics API (metrics-server on a cluster
and in the sandbox), and the tail of each pod's current log. The Kubernetes adapter is
`drills.targets.adapters.kube_top`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["PodDiagnostics", "PodUsage"]


@dataclass(frozen=True)
class PodUsage:
    """One line of `kubectl top pods`: CPU in millicores, memory in bytes."""

    name: str
    cpu_millicores: float
    memory_bytes: int

    def describe(self) -> str:
        """`shop-abc 412m 61Mi`, as kubectl prints it."""
        return f"{self.name} {self.cpu_millicores:.0f}m {self.memory_bytes // (1024 * 1024)}Mi"


class PodDiagnostics(Protocol):
    """What `kubectl top pods` and `kubectl logs --tail` show for a workload's pods."""

    def top_pods(self) -> list[PodUsage]:
        """CPU and memory of the workload's pods, busiest CPU first (`--sort-by=cpu`)."""
        ...

    def log_tail(self, pod: str, *, tail_lines: int = 200) -> str:
        """The last `tail_lines` lines of the pod's current container log."""
        ...
