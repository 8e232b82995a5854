"""Runbook recovery for OOM kills (RUNBOOKS.md §3.3 step 3): raise the memory limit.

The seeds raise it with `kubectl edit deployment` (512Mi -> 1Gi [000]) or `kubectl set resources
deployment/backend --limits=...` ([002], [003]); neither names a container, so the limit goes on
every container of the pod template. A raise aimed at named containers changes only those, and a
name the template does not have changes nothing: the API accepts nothing was sent, and only the
pods show that the raise never landed. The drill therefore judges the pods, not this answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.targets.ports.memory import MemoryLimits

__all__ = ["LimitRaise", "RaisedLimit"]


@dataclass(frozen=True)
class RaisedLimit:
    """What the raise sent: the quantity, the containers changed and the names not found."""

    quantity: str
    changed: tuple[str, ...]
    missing: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for the report."""
        changed = ", ".join(self.changed) or "no container"
        text = f"limits.memory={self.quantity} set on {changed}"
        if self.missing:
            text += f"; no container named {', '.join(repr(m) for m in self.missing)}"
        return text


@dataclass(frozen=True)
class LimitRaise:
    """Raise limits.memory to `quantity` on `containers` (empty: every container)."""

    quantity: str
    containers: tuple[str, ...] = ()

    def apply(self, memory: MemoryLimits) -> RaisedLimit:
        """Patch the template; returns what changed (a rollout follows on the cluster)."""
        names = self.containers or tuple(memory.template_limits())
        changed = [c for name in names for c in memory.set_memory_limit(name, self.quantity)]
        missing = tuple(name for name in names if name not in changed)
        return RaisedLimit(self.quantity, tuple(changed), missing)
