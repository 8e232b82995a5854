"""The HorizontalPodAutoscaler's replica rule, by which the HPA drill judges the controller.

Kubernetes documents it as desiredReplicas = ceil(currentReplicas * currentMetric / target),
skipped when the ratio is within the tolerance (default 0.1) of 1.0.

Around the rule the controller applies its behaviour (kube-controller-manager's
`pkg/controller/podautoscaler/horizontal.go`, restated here so the drill can replay it):

- every sync records the rule's recommendation; the scale-down stabilisation takes the highest
  recommendation of the last `window_s` seconds (the HPA's `behavior.scaleDown` window, else the
  controller's `--horizontal-pod-autoscaler-downscale-stabilization`, upstream 5 min), so a
  scale-in comes only once every recommendation of the window is lower;
- without `spec.behavior` a scale-up may at most double the replicas (at least up to 4);
- with `spec.behavior` each direction has policies (Pods or Percent per period) counted over the
  scale events of their period, a select policy (Max, Min, Disabled) and its own window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "UPSTREAM_SCALE_DOWN_WINDOW_S",
    "HpaBehavior",
    "PolicyKind",
    "ScaleEvent",
    "ScalingPolicy",
    "ScalingRules",
    "SelectPolicy",
    "desired_replicas",
    "scale_down_limit",
    "scale_up_limit",
]

UPSTREAM_SCALE_DOWN_WINDOW_S = 300.0
"""kube-controller-manager's default `--horizontal-pod-autoscaler-downscale-stabilization`."""


def desired_replicas(
    current_replicas: int,
    current_metric: float,
    target_metric: float,
    *,
    ready_pods: int | None = None,
    tolerance: float = 0.1,
) -> int:
    """Return the replica count the HPA rule asks for.

    ratio = current_metric / target_metric; within `tolerance` of 1.0 (bounds included, compared
    as upstream's replica calculator does) the count stays at
    `current_replicas`, otherwise it is ceil(ratio * ready_pods), with `ready_pods` defaulting to
    `current_replicas`. Min/max clamping and stabilisation are the caller's business.
    """
    if target_metric <= 0:
        raise ValueError("target_metric must be positive")
    if current_replicas < 0 or current_metric < 0:
        raise ValueError("replicas and metric cannot be negative")
    ratio = current_metric / target_metric
    # Upstream's Tolerances.isWithin, to the float: 77/70 is within 1.0 + 0.1 there, while
    # abs(77/70 - 1.0) is a hair above 0.1, so the two forms disagree right on the edge.
    if (1.0 - tolerance) <= ratio <= (1.0 + tolerance):
        return current_replicas
    pods = current_replicas if ready_pods is None else ready_pods
    # Round away float noise first: 3 * (1.2/0.4) must be 9, not 10.
    return math.ceil(round(ratio * pods, 9))


class PolicyKind(StrEnum):
    """`HPAScalingPolicy.type`."""

    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(StrEnum):
    """`HPAScalingRules.selectPolicy`: the policy allowing the larger or smaller change, or none."""

    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


@dataclass(frozen=True)
class ScalingPolicy:
    """At most `value` pods (or percent of the replicas) per `period_s` seconds."""

    kind: PolicyKind
    value: int
    period_s: int


@dataclass(frozen=True)
class ScalingRules:
    """One direction of `spec.behavior`; `window_s` None means the controller's default."""

    window_s: float | None = None
    select: SelectPolicy = SelectPolicy.MAX
    policies: tuple[ScalingPolicy, ...] = ()

    def describe(self) -> str:
        """`window 10 s, Max of 4 Pods/15 s, 100 Percent/15 s` style."""
        window = "controller default" if self.window_s is None else f"{self.window_s:g} s"
        if self.select is SelectPolicy.DISABLED:
            return f"window {window}, Disabled"
        rates = ", ".join(f"{p.value} {p.kind.value}/{p.period_s} s" for p in self.policies)
        return f"window {window}, {self.select.value} of {rates or 'no policy'}"


@dataclass(frozen=True)
class HpaBehavior:
    """`spec.behavior` as the API server defaulted it (both directions filled in)."""

    scale_up: ScalingRules
    scale_down: ScalingRules


@dataclass(frozen=True)
class ScaleEvent:
    """One rescale the HPA made: `change` replicas (positive up, negative down) at `at_s`."""

    at_s: float
    change: int


def _period_change(events: Iterable[ScaleEvent], period_s: int, now_s: float) -> tuple[int, int]:
    """Replicas added and removed by the events of the last `period_s` seconds."""
    recent = [e.change for e in events if e.at_s > now_s - period_s]
    return sum(c for c in recent if c > 0), -sum(c for c in recent if c < 0)


def _proposal(policy: ScalingPolicy, start: int, *, up: bool) -> int:
    if policy.kind is PolicyKind.PODS:
        return start + policy.value if up else start - policy.value
    if up:  # rounded up, or a small count would never grow
        return math.ceil(start * (1 + policy.value / 100))
    return int(start * (1 - policy.value / 100))


def scale_up_limit(
    current: int,
    rules: ScalingRules | None,
    events: Iterable[ScaleEvent] = (),
    *,
    now_s: float = 0.0,
) -> int:
    """The most replicas one sync may ask for, never below `current`.

    `rules` None is an HPA without `spec.behavior`: max(2 x current, 4). Otherwise each policy
    proposes from the replicas at the start of its period (current minus what the events of the
    period added, plus what they removed); Max takes the largest proposal, Min the smallest, and
    Disabled allows no scale-up.
    """
    if rules is None:
        return max(2 * current, 4, current)
    if rules.select is SelectPolicy.DISABLED or not rules.policies:
        return current
    proposals = _proposals(current, rules, events, now_s=now_s, up=True)
    chosen = min(proposals) if rules.select is SelectPolicy.MIN else max(proposals)
    return max(chosen, current)


def _proposals(
    current: int,
    rules: ScalingRules,
    events: Iterable[ScaleEvent],
    *,
    now_s: float,
    up: bool,
) -> list[int]:
    """Each policy's proposal from the replicas at the start of its period."""
    seen = list(events)
    proposals = []
    for policy in rules.policies:
        added, removed = _period_change(seen, policy.period_s, now_s)
        proposals.append(_proposal(policy, current - added + removed, up=up))
    return proposals


def scale_down_limit(
    current: int,
    rules: ScalingRules | None,
    events: Iterable[ScaleEvent] = (),
    *,
    now_s: float = 0.0,
) -> int:
    """The fewest replicas one sync may ask for, never above `current`.

    `rules` None (no `spec.behavior`) sets no rate: 0. Otherwise as `scale_up_limit` downwards:
    Max takes the largest change (the smallest proposal), Min the smallest, Disabled none.
    """
    if rules is None:
        return 0
    if rules.select is SelectPolicy.DISABLED or not rules.policies:
        return current
    proposals = _proposals(current, rules, events, now_s=now_s, up=False)
    chosen = max(proposals) if rules.select is SelectPolicy.MIN else min(proposals)
    return min(chosen, current)
