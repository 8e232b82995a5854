"""Probes on a HorizontalPodAutoscaler: what it saw, what it chose, and what the rule says.

`sample_hpa` takes one reading (HPA status plus the workload's Ready pods around it).
`rule_range` gives `desired_replicas(...)` (DESIGN.md) for the metric values the HPA itself
reported, allowing for the reported values' resolution (CPU utilisation is a whole percent);
`drills.probes.hpa_replay` judges the HPA's decisions with it. `range_breaches` finds replica
counts outside min..max; `peak_pressure` says how far the metrics ever went past their targets,
so a spike too small to matter is told apart from an HPA that does not act.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drills.core.autoscaling import desired_replicas
from drills.core.clock import DrillClock
from drills.core.conditions import Condition, Observation
from drills.core.errors import DrillError
from drills.targets.ports.autoscaling import Autoscaler, HpaStatus, MetricReading
from drills.targets.ports.workload import Workload

__all__ = [
    "HpaSample",
    "hpa_at_rest",
    "hpa_blind",
    "hpa_present",
    "hpa_sees",
    "peak_pressure",
    "range_breaches",
    "replicas_above",
    "replicas_settled_at",
    "rule_range",
    "sample_hpa",
]

_STEPS = (0.0, 0.25, 0.5, 0.75, 0.999)  # points inside one reported step of a metric


@dataclass(frozen=True)
class HpaSample:
    """One reading: the HPA (None when absent) and the Ready pods counted before and after."""

    at_s: float
    status: HpaStatus | None
    ready_before: int
    ready_after: int
    spec_replicas: int

    @property
    def settled(self) -> bool:
        """The Ready pods did not move around the reading and equal the HPA's current count."""
        if self.status is None:
            return False
        return self.ready_before == self.ready_after == self.status.current_replicas


def _ready(workload: Workload) -> int:
    return sum(1 for p in workload.pods() if p.ready and not p.deleting)


def sample_hpa(autoscaler: Autoscaler, workload: Workload, clock: DrillClock) -> HpaSample:
    """Read the HPA between two counts of Ready pods (so a check can skip moving moments)."""
    before = _ready(workload)
    status = autoscaler.status()
    at_s = clock.now()
    after = _ready(workload)
    return HpaSample(at_s, status, before, after, workload.desired_replicas())


def _proposal(reading: MetricReading, current: int, tolerance: float) -> tuple[int, int] | None:
    if reading.current is None or reading.target <= 0:
        return None
    values = [
        desired_replicas(
            current,
            reading.current + step * reading.resolution,
            reading.target,
            tolerance=tolerance,
        )
        for step in _STEPS
    ]
    return min(values), max(values)


def rule_range(status: HpaStatus, *, tolerance: float = 0.1) -> tuple[int, int] | None:
    """The replica counts the rule allows for the metrics the HPA reported, clamped to its range.

    Each metric proposes `desired_replicas(current, value, target)` for every value its reported
    figure may stand for; the largest proposal wins, as in Kubernetes. None when no metric has a
    value yet (the HPA cannot decide either).
    """
    proposals = [
        p
        for p in (_proposal(m, status.current_replicas, tolerance) for m in status.metrics)
        if p is not None
    ]
    if not proposals or status.current_replicas <= 0:
        return None
    low = max(p[0] for p in proposals)
    high = max(p[1] for p in proposals)
    floor, ceiling = status.min_replicas, status.max_replicas
    return min(max(low, floor), ceiling), min(max(high, floor), ceiling)


def range_breaches(
    samples: Sequence[HpaSample], low: int, high: int, *, origin_s: float = 0.0
) -> list[str]:
    """Readings with current, desired or Ready replicas outside low..high, as sentences.

    A count of 0 in the HPA's status is one it has not reported yet (a new HPA says desired 0
    until its first decision); times are given from `origin_s`.
    """
    found = []
    for sample in samples:
        status = sample.status
        counts = {"ready pods": sample.ready_after}
        if status is not None:
            reported = {"current": status.current_replicas, "desired": status.desired_replicas}
            counts |= {what: value for what, value in reported.items() if value > 0}
        for what, value in counts.items():
            if not low <= value <= high and not (what == "ready pods" and value < low):
                at = sample.at_s - origin_s
                found.append(f"{what} {value} outside {low}..{high} at t={at:.1f}s")
    return found


def peak_pressure(samples: Iterable[HpaSample]) -> dict[str, float]:
    """Per metric, the highest current/target ratio the HPA reported (1.0 = at target)."""
    peaks: dict[str, float] = {}
    for sample in samples:
        for reading in sample.status.metrics if sample.status else ():
            if reading.current is None or reading.target <= 0:
                continue
            ratio = reading.current / reading.target
            peaks[reading.name] = max(peaks.get(reading.name, 0.0), ratio)
    return peaks


def hpa_present(autoscaler: Autoscaler) -> Condition:
    """The HPA exists and reports a status."""

    def check() -> Observation:
        status = autoscaler.status()
        if status is None:
            return Observation(ok=False, detail=f"hpa/{autoscaler.name} not found")
        return Observation(ok=True, detail=status.describe())

    return Condition(f"hpa_present({autoscaler.name})", check)


def _scaling_active(status: HpaStatus) -> str:
    """`ScalingActive False (FailedGetResourceMetric: ...)` as `kubectl describe hpa` says it."""
    active = status.condition("ScalingActive")
    if active is None:
        return "no ScalingActive condition yet"
    said = f"ScalingActive {active.status}"
    if active.reason:
        said += f" ({active.reason}: {active.message})" if active.message else f" ({active.reason})"
    return said


def hpa_blind(autoscaler: Autoscaler) -> Condition:
    """The HPA exists but cannot compute a recommendation: ScalingActive False (no metrics).

    The upstream controller sets it when every metric fails to be read (reason
    FailedGetResourceMetric, FailedGetPodsMetric, ...); it then leaves the replicas alone.
    """

    def check() -> Observation:
        status = autoscaler.status()
        if status is None:
            return Observation(ok=False, detail=f"hpa/{autoscaler.name} not found")
        active = status.condition("ScalingActive")
        blind = active is not None and active.status == "False"
        return Observation(ok=blind, detail=f"{_scaling_active(status)}; {status.describe()}")

    return Condition(f"hpa_blind({autoscaler.name})", check)


def hpa_sees(autoscaler: Autoscaler) -> Condition:
    """The HPA exists, ScalingActive is True and it reports a current value for every metric."""

    def check() -> Observation:
        status = autoscaler.status()
        if status is None:
            return Observation(ok=False, detail=f"hpa/{autoscaler.name} not found")
        active = status.condition("ScalingActive")
        known = all(m.current is not None for m in status.metrics)
        ok = active is not None and active.status == "True" and known
        return Observation(ok=ok, detail=f"{_scaling_active(status)}; {status.describe()}")

    return Condition(f"hpa_sees({autoscaler.name})", check)


def hpa_at_rest(autoscaler: Autoscaler, workload: Workload) -> Condition:
    """The HPA wants the replicas that run and every one is Ready (no HPA: the pods alone).

    Before a spike: an HPA still acting on an earlier load (or not yet decided, desired 0)
    would move the baseline the drill measures from.
    """

    def check() -> Observation:
        wanted, ready = workload.desired_replicas(), _ready(workload)
        status = autoscaler.status()
        if status is None:
            return Observation(ok=wanted == ready, detail=f"no HPA; {ready}/{wanted} Ready")
        ok = status.desired_replicas == status.current_replicas == wanted == ready
        return Observation(
            ok=ok,
            detail=f"HPA current {status.current_replicas} desired {status.desired_replicas}, "
            f"spec.replicas {wanted}, {ready} Ready",
        )

    return Condition(f"hpa_at_rest({autoscaler.name})", check)


def replicas_above(workload: Workload, baseline: int) -> Condition:
    """The workload's spec.replicas went above `baseline` (the autoscaler scaled it up)."""

    def check() -> Observation:
        wanted = workload.desired_replicas()
        return Observation(ok=wanted > baseline, detail=f"spec.replicas {wanted} (was {baseline})")

    return Condition(f"replicas_above({workload.name}, {baseline})", check)


def replicas_settled_at(workload: Workload, count: int | None = None) -> Condition:
    """spec.replicas equals `count` (any count when None) and that many pods are Ready."""

    def check() -> Observation:
        try:
            wanted = workload.desired_replicas()
            ready = _ready(workload)
        except DrillError as exc:
            return Observation(ok=False, detail=f"workload unreadable: {exc}")
        target = wanted if count is None else count
        ok = wanted == target and ready == target
        return Observation(ok=ok, detail=f"spec.replicas {wanted}, {ready} Ready (want {target})")

    return Condition(f"replicas_settled_at({workload.name}, {count})", check)
