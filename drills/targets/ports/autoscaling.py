"""Port for a HorizontalPodAutoscaler, as the `hpa-spike` drill reads it.

What `kubectl describe hpa` shows: the replica range, current and desired replicas, each
metric's current value beside its target, the conditions and the last scale time, and the
scaling behaviour its spec declares. Values are plain numbers: CPU utilisation in percent of the
pods' requests, per-pod metrics in their own unit (e.g. requests per second).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from drills.core.autoscaling import HpaBehavior

__all__ = ["Autoscaler", "AutoscalerObject", "HpaCondition", "HpaStatus", "MetricReading"]


@dataclass(frozen=True)
class MetricReading:
    """One metric the HPA scales on: what it last observed against what it aims for.

    `resolution` is the step the current value is reported in (1 for a whole-percent CPU
    utilisation, 0.001 for a milli-quantity), so a check can allow for the truncation.
    `current` is None while the HPA has not observed the metric.
    """

    name: str
    source: str  # Resource | Pods | Object | External | ContainerResource
    target_type: str  # Utilization | AverageValue | Value
    target: float
    current: float | None
    resolution: float = 1.0

    def describe(self) -> str:
        """`cpu 82/70 (Utilization)` style, as `kubectl get hpa` prints targets."""
        seen = "<unknown>" if self.current is None else f"{self.current:g}"
        return f"{self.name} {seen}/{self.target:g} ({self.target_type})"


@dataclass(frozen=True)
class HpaCondition:
    """One status condition (AbleToScale, ScalingActive, ScalingLimited)."""

    type: str
    status: str
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class HpaStatus:
    """Spec range and status of one HPA at one moment."""

    name: str
    target_kind: str
    target_name: str
    min_replicas: int
    max_replicas: int
    current_replicas: int
    desired_replicas: int
    metrics: tuple[MetricReading, ...] = ()
    conditions: tuple[HpaCondition, ...] = ()
    last_scale_time: str | None = None
    behavior: HpaBehavior | None = None  # spec.behavior; None: the controller's defaults

    def condition(self, kind: str) -> HpaCondition | None:
        """The condition of `kind`, if the HPA reports it."""
        return next((c for c in self.conditions if c.type == kind), None)

    def describe(self) -> str:
        """One line like `kubectl get hpa`: targets, range, current and desired replicas."""
        targets = ", ".join(m.describe() for m in self.metrics) or "no metrics"
        return (
            f"hpa/{self.name} -> {self.target_kind}/{self.target_name}: {targets}; "
            f"min {self.min_replicas} max {self.max_replicas}; "
            f"current {self.current_replicas} desired {self.desired_replicas}"
        )


class Autoscaler(Protocol):
    """A HorizontalPodAutoscaler in one namespace."""

    namespace: str
    name: str

    def status(self) -> HpaStatus | None:
        """Spec range and status now; None when the HPA does not exist."""
        ...


class AutoscalerObject(Autoscaler, Protocol):
    """The HPA as an object a fault may delete and a rollback re-create (RUNBOOKS §3.9 `no-hpa`).

    A manifest is what `kubectl apply` would take: apiVersion, kind, metadata (name, namespace,
    labels, annotations) and spec, as the API server holds them; no status, no server fields.
    """

    def manifest(self) -> dict[str, Any] | None:
        """The HPA as it is now; None when it does not exist."""
        ...

    def delete(self) -> None:
        """Delete the HPA (`kubectl delete hpa NAME`)."""
        ...

    def restore(self, manifest: Mapping[str, Any]) -> None:
        """Create the HPA from `manifest`, or put its spec back if it exists with another."""
        ...
