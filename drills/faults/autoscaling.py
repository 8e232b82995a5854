"""Autoscaling faults of RUNBOOKS.md §3.9: the HPA deleted, the metrics APIs it reads down."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from drills.core.errors import InjectionFailed
from drills.core.safety import RollbackEntry
from drills.targets.ports.autoscaling import AutoscalerObject
from drills.targets.ports.metrics_api import MetricsApis

__all__ = ["DeleteHpa", "StopMetricsApis"]


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


@dataclass
class StopMetricsApis:
    """Take down the metrics APIs an HPA reads (§3.9 `no-metrics`: the HPA is blind).

    Their Services are left without a ready endpoint, as when metrics-server's Deployment is
    scaled to 0: the API server answers 503 for the group, `kubectl top` has no figures and the
    HPA controller cannot recommend anything (ScalingActive False). The rollback puts the
    endpoints read before back (kept in the ledger entry, so `drills rollback` can too);
    endpoints already back are left alone.
    """

    apis: MetricsApis
    kind: str = "stop-metrics-apis"
    _serving: dict[str, list[dict[str, Any]]] | None = None

    @property
    def target(self) -> str:
        """The APIServices taken down."""
        return f"apiservice/{','.join(self.apis.names) or 'none'}"

    @property
    def serving(self) -> dict[str, list[dict[str, Any]]]:
        """The endpoints read before the fault (empty until the rollback entry is taken)."""
        return dict(self._serving or {})

    def describe(self) -> str:
        """One line for the plan."""
        return f"take {self.target} down: no ready endpoint behind its Service"

    def rollback_entry(self) -> RollbackEntry:
        """Remember the endpoints serving the APIs now, to put them back."""
        self._serving = self.apis.serving()
        return RollbackEntry(
            self.kind, self.target, {"serving": json.dumps(self._serving, sort_keys=True)}
        )

    def apply(self) -> None:
        """Empty the endpoints; there must be some serving."""
        if not any((self._serving or {}).values()):
            raise InjectionFailed(f"no endpoint serves {self.target}: nothing to take down")
        self.apis.stop(self._serving or {})

    def rollback(self) -> None:
        """Put the endpoints back unless they are; idempotent."""
        if self._serving:
            self.apis.restore(self._serving)
