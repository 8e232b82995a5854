"""Port for a Deployment's memory: limits, OOM kills and usage (RUNBOOKS.md §3.3).

The `oom-memory-leak` drill needs what the Workload port leaves out: each pod's memory limit and
how its containers ended (`kubectl describe pod`), the memory in use (`kubectl top pods`, the
metrics API), the pod template's limits, and the runbook's verbs on them (roll out a release
with other settings, `kubectl set resources --limits=memory=...`, put a template back whole).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from drills.core.memory import ContainerMemory, MemoryReading

__all__ = ["MemoryLimits", "MetricsUnavailable"]


class MetricsUnavailable(Exception):
    """The metrics API (metrics.k8s.io) is not served or refused the read; the text says why."""


class MemoryLimits(Protocol):
    """A Deployment's containers as far as memory goes."""

    namespace: str
    name: str

    def containers(self) -> list[ContainerMemory]:
        """Every container of every pod the Deployment selects, as the pods' status says."""
        ...

    def top(self) -> list[MemoryReading]:
        """`kubectl top pods --containers` for the selected pods; raises MetricsUnavailable."""
        ...

    def template_limits(self) -> dict[str, int | None]:
        """Container name -> memory limit in bytes (None: no limit) in the pod template now."""
        ...

    def set_memory_limit(self, container: str, quantity: str) -> tuple[str, ...]:
        """Set limits.memory of the named container in the template (`kubectl set resources`).

        Returns the containers changed: none when no container has that name, in which case
        nothing is sent (as `kubectl set env -c` only warns; the drill judges the pods).
        """
        ...

    def release(self, container: str, *, env: Mapping[str, str], memory_limit: str) -> None:
        """Roll out one template change: `env` set and limits.memory = `memory_limit`."""
        ...

    def template(self) -> str:
        """The pod template now, as canonical JSON (what `restore_template` puts back)."""
        ...

    def restore_template(self, template: str) -> bool:
        """Put a template from `template()` back whole; False when it is already there."""
        ...
