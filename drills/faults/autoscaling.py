"""Autoscaling faults from the runbooks: the HorizontalPodAutoscaler deleted (RUNBOOKS.md §3.9)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from drills.core.errors import InjectionFailed
from drills.core.safety import RollbackEntry
from drills.targets.ports.autoscaling import AutoscalerObject

__all__ = ["DeleteHpa"]


@dataclass
class DeleteHpa:
    """Delete the HPA (§3.9 `no-hpa`: under a spike nothing scales the Deployment any more).

    The rollback re-creates it from the manifest read before the deletion (kept in the ledger
    entry as JSON, so `drills rollback` can do the same after a crash), or puts that spec back
    when someone re-created it differently; an HPA re-created as it was is left alone.
    """

    hpa: AutoscalerObject
    kind: str = "delete-hpa"
    _manifest: dict[str, Any] | None = None

    @property
    def target(self) -> str:
        """The HPA deleted."""
        return f"{self.hpa.namespace}/hpa/{self.hpa.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"delete {self.target}"

    def rollback_entry(self) -> RollbackEntry:
        """Remember the HPA as it is now, to re-create it."""
        self._manifest = self.hpa.manifest()
        manifest = "" if self._manifest is None else json.dumps(self._manifest, sort_keys=True)
        return RollbackEntry(self.kind, self.target, {"manifest": manifest})

    def apply(self) -> None:
        """Delete the HPA; there must be one."""
        if self._manifest is None:
            raise InjectionFailed(f"there is no {self.target} to delete")
        self.hpa.delete()

    def rollback(self) -> None:
        """Re-create the HPA (or its spec) unless it is back as it was; idempotent."""
        if self._manifest is None:
            return
        now = self.hpa.manifest()
        if now is None or now.get("spec") != self._manifest.get("spec"):
            self.hpa.restore(self._manifest)
