"""Probes on a HorizontalPodAutoscaler: what it saw, what it chose, and whether the rule agrees.

`sample_hpa` takes one reading (HPA status plus the workload's Ready pods around it).
`check_rule` compares the HPA's desiredReplicas with `desired_replicas(...)` (DESIGN.md)
computed from the metric values the HPA itself reported, allowing for the reported values'
resolution (CPU utilisation is a whole percent) and for the documented behaviour that may hold a
decision back (scale-up rate policies, the scale-down stabilisation window).
`judge_rule` folds many checks into one verdict; `range_breaches` finds replica counts outside
min..max; `peak_pressure` says how far the metrics ever went past their targets, so a spike too
small to matter is told apart from an HPA that does not act.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from drills.core.autoscaling import desired_replicas
from drills.core.clock import DrillClock
from drills.core.conditions import Condition, Observation
from drills.core.errors import DrillError
from drills.targets.ports.autoscaling import Autoscaler, HpaStatus, MetricReading
from drills.targets.ports.workload import Workload

__all__ = [
    "HpaSample",
    "RuleCheck",
    "RuleOutcome",
    "RuleSummary",
    "check_rule",
    "hpa_present",
    "judge_rule",
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


class RuleOutcome(StrEnum):
    """How one HPA decision compares with the rule."""

    MATCH = "match"
    STABILISED = "held by the scale-down stabilisation window"
    RATE_LIMITED = "held by the scale-up rate policy"
    MISMATCH = "mismatch"


@dataclass(frozen=True)
class RuleCheck:
    """One HPA decision beside what `desired_replicas` gives for the same observation."""

    at_s: float
    current: int
    desired: int
    computed_low: int
    computed_high: int
    outcome: RuleOutcome
    observed: str

    @property
    def computed(self) -> str:
        """The computed count, or its range when the metric's resolution allows two."""
        if self.computed_low == self.computed_high:
            return str(self.computed_low)
        return f"{self.computed_low}..{self.computed_high}"

    def describe(self) -> str:
        """`HPA desired 5, desired_replicas(3, ...) = 5 (match)`."""
        return (
            f"HPA desiredReplicas {self.desired} vs desired_replicas(current {self.current}, "
            f"{self.observed}) = {self.computed} ({self.outcome.value})"
        )


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


def _held_back(status: HpaStatus, low: int) -> bool:
    """A scale-up below the rule that the HPA says a policy or window held back."""
    if not status.current_replicas <= status.desired_replicas < low:
        return False
    limited = status.condition("ScalingLimited")
    able = status.condition("AbleToScale")
    return (
        limited is not None and limited.status == "True" and limited.reason == "ScaleUpLimit"
    ) or (able is not None and able.reason == "ScaleUpStabilized")


def check_rule(sample: HpaSample, *, tolerance: float = 0.1) -> RuleCheck | None:
    """Compare one settled sample's decision with the rule; None when it cannot be judged."""
    status = sample.status
    if status is None or not sample.settled:
        return None
    bounds = rule_range(status, tolerance=tolerance)
    if bounds is None:
        return None
    low, high = bounds
    desired, current = status.desired_replicas, status.current_replicas
    if low <= desired <= high:
        outcome = RuleOutcome.MATCH
    elif high < desired <= current:
        outcome = RuleOutcome.STABILISED
    elif _held_back(status, low):
        outcome = RuleOutcome.RATE_LIMITED
    else:
        outcome = RuleOutcome.MISMATCH
    observed = ", ".join(m.describe() for m in status.metrics if m.current is not None)
    return RuleCheck(sample.at_s, current, desired, low, high, outcome, observed)


@dataclass(frozen=True)
class RuleSummary:
    """Every judged HPA decision of a drill."""

    checks: tuple[RuleCheck, ...]

    @property
    def mismatches(self) -> tuple[RuleCheck, ...]:
        """Decisions the rule and the documented behaviour cannot explain."""
        return tuple(c for c in self.checks if c.outcome is RuleOutcome.MISMATCH)

    @property
    def scaling(self) -> tuple[RuleCheck, ...]:
        """Decisions that moved the replica count (desired != current)."""
        return tuple(c for c in self.checks if c.desired != c.current)

    def count(self, outcome: RuleOutcome) -> int:
        """How many decisions had `outcome`."""
        return sum(1 for c in self.checks if c.outcome is outcome)


def judge_rule(
    samples: Iterable[HpaSample], *, tolerance: float = 0.1, settle_s: float = 0.0
) -> RuleSummary:
    """Check every sample taken after the pods stayed settled for `settle_s` against the rule.

    A new pod is Ready before the metrics pipeline reports it, and until then the HPA decides
    over fewer pods than it counts as current; `settle_s` (seconds on the sandbox, whose
    metrics-server scrapes every 10 s; about a minute at metrics-server's default resolution)
    skips those moments.
    """
    checks = []
    since: tuple[float, int] | None = None  # (settled since, at this many replicas)
    for sample in samples:
        status = sample.status
        if status is None or not sample.settled:
            since = None
            continue
        if since is None or since[1] != status.current_replicas:
            since = (sample.at_s, status.current_replicas)
        if sample.at_s - since[0] < settle_s:
            continue
        check = check_rule(sample, tolerance=tolerance)
        if check is not None:
            checks.append(check)
    return RuleSummary(tuple(checks))


def range_breaches(samples: Sequence[HpaSample], low: int, high: int) -> list[str]:
    """Readings with current, desired or Ready replicas outside low..high, as sentences."""
    found = []
    for sample in samples:
        status = sample.status
        counts = {"ready pods": sample.ready_after}
        if status is not None:
            counts |= {"current": status.current_replicas, "desired": status.desired_replicas}
        for what, value in counts.items():
            if not low <= value <= high and not (what == "ready pods" and value < low):
                found.append(f"{what} {value} outside {low}..{high} at t={sample.at_s:.1f}s")
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
