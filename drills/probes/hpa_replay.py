"""Replay an HPA's decisions from a sampled timeline and judge each one against the upstream rules.

The HPA reports, per sync, the metrics it saw and the replica count it chose. From the metrics
`rule_range` gives the rule's recommendation (`desired_replicas(...)`, DESIGN.md); the controller
then applies its behaviour (`drills.core.autoscaling`): the highest recommendation of the
scale-down stabilisation window, rate limits. The replay keeps every recommendation with the
time it was first seen and asks of each decision what the controller could have done:

- MATCH: the rule's count;
- STABILISED: above the rule, but a recommendation at least that high is inside the window (or
  the window holds moments the replay cannot see into, so it cannot say otherwise);
- RATE_LIMITED: below the rule's scale-up, at the limit the policies allow; or a scale-in slowed
  by the HPA's scale-down policies;
- SCALED_IN_EARLY (fails): a scale-in below a recommendation made inside the window, the
  flapping a 0 s window allows;
- HELD_PAST_WINDOW (fails): replicas held above every recommendation of the whole window,
  the scale-in that never comes (a longer window than expected, scale-down disabled, a metric
  the HPA cannot read);
- MISMATCH (fails): anything else.

A status that carries no decision (a new HPA's desired 0; a sync that could not compute,
ScalingActive False, which leaves the last count standing) is judged only for the replicas it
keeps past the window.

What the rule says is known exactly only once the pods have stayed unchanged for `settle_s`
(a new pod has no CPU figure for a while, and upstream then counts it at 100% on a scale-in, or
keeps the current count rather than reverse the direction). Before that, with every pod Ready,
the recommendation still lies between the rule's count and the current one: the per-pod
metrics (request rate) see every Ready pod, so their count bounds it from below, and the
current count may stand above. Such a recommendation proves an early scale-in when even its
lower bound is higher, and explains a hold at the current count; it is not judged itself.

Times are inexact in known ways, and the replay leans towards "not proven" each time: the
controller wrote a status after the reading before the one that first showed it, and may have
made the same recommendation again until another status appeared. A recommendation counts as
surely inside a decision's window only when even its earliest possible time is inside the
window ending at the decision's latest possible time, and as possibly inside when its latest
possible time is inside the window ending at the decision's earliest. Moments where the pods
moved (a new pod has no metrics yet) or where readings are further apart than a sync are
unknown, and an unknown moment in the window explains a hold; it never proves an early scale-in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import pairwise

from drills.core.autoscaling import (
    UPSTREAM_SCALE_DOWN_WINDOW_S,
    ScaleEvent,
    ScalingRules,
    SelectPolicy,
    scale_down_limit,
    scale_up_limit,
)
from drills.probes.autoscaling import HpaSample, rule_range
from drills.targets.ports.autoscaling import HpaStatus

__all__ = [
    "ReplayTimings",
    "RuleCheck",
    "RuleOutcome",
    "RuleSummary",
    "expected_scale_down_window_s",
    "judge_rule",
]

_LATENCY_S = 0.5  # how stale the API server's answer to one read may be

_Limit = Callable[[list[ScaleEvent], float], int]


class RuleOutcome(StrEnum):
    """How one HPA decision compares with the rule and the behaviour around it."""

    MATCH = "match"
    STABILISED = "held by the scale-down stabilisation window"
    RATE_LIMITED = "held by a rate policy"
    SCALED_IN_EARLY = "scaled in before the stabilisation window ended"
    HELD_PAST_WINDOW = "held after the stabilisation window ended"
    MISMATCH = "mismatch"


FAILING = frozenset(
    {RuleOutcome.MISMATCH, RuleOutcome.SCALED_IN_EARLY, RuleOutcome.HELD_PAST_WINDOW}
)


@dataclass(frozen=True)
class ReplayTimings:
    """What the replay expects and how finely it sees.

    `scale_down_window_s` is the window the drill expects (the profile's, else the HPA's own);
    `sync_period_s` the controller's `--horizontal-pod-autoscaler-sync-period` (readings further
    apart may miss a decision); `settle_s` how long the pods must stay unchanged before a
    recommendation is trusted (new pods have no metrics yet).
    """

    scale_down_window_s: float = UPSTREAM_SCALE_DOWN_WINDOW_S
    sync_period_s: float = 15.0
    settle_s: float = 0.0
    tolerance: float = 0.1


@dataclass(frozen=True)
class RuleCheck:
    """One HPA decision beside what `desired_replicas` gives for the same observation."""

    at_s: float
    current: int
    desired: int
    computed_low: int | None
    computed_high: int | None
    outcome: RuleOutcome
    observed: str
    why: str = ""

    @property
    def computed(self) -> str:
        """The computed count, its range when the metric's resolution allows two, or `?`."""
        if self.computed_low is None or self.computed_high is None:
            return "?"
        if self.computed_low == self.computed_high:
            return str(self.computed_low)
        return f"{self.computed_low}..{self.computed_high}"

    @property
    def fails(self) -> bool:
        """The rule and the behaviour cannot explain this decision."""
        return self.outcome in FAILING

    def describe(self) -> str:
        """`HPA desiredReplicas 5 vs desired_replicas(current 3, ...) = 5 (match)`, and why."""
        text = (
            f"HPA desiredReplicas {self.desired} vs desired_replicas(current {self.current}, "
            f"{self.observed}) = {self.computed} ({self.outcome.value})"
        )
        return f"{text}: {self.why}" if self.why else text


@dataclass(frozen=True)
class RuleSummary:
    """Every judged HPA decision of a drill."""

    checks: tuple[RuleCheck, ...]

    @property
    def mismatches(self) -> tuple[RuleCheck, ...]:
        """Decisions the rule and the documented behaviour cannot explain."""
        return tuple(c for c in self.checks if c.fails)

    @property
    def scaling(self) -> tuple[RuleCheck, ...]:
        """Decisions that moved the replica count (desired != current)."""
        return tuple(c for c in self.checks if c.desired != c.current)

    def count(self, outcome: RuleOutcome) -> int:
        """How many decisions had `outcome`."""
        return sum(1 for c in self.checks if c.outcome is outcome)

    def first(self, outcome: RuleOutcome) -> RuleCheck | None:
        """The earliest decision with `outcome`."""
        return next((c for c in self.checks if c.outcome is outcome), None)


def expected_scale_down_window_s(status: HpaStatus | None, configured_s: float | None) -> float:
    """The window to judge by: the profile's when it sets one, else the HPA's, else upstream's."""
    if configured_s is not None:
        return configured_s
    declared = _declared_window_s(status)
    return UPSTREAM_SCALE_DOWN_WINDOW_S if declared is None else declared


def _declared_window_s(status: HpaStatus | None) -> float | None:
    if status is None or status.behavior is None:
        return None
    return status.behavior.scale_down.window_s


@dataclass(frozen=True)
class _Run:
    """Consecutive samples showing one HPA status: one sync's decision as the timeline saw it."""

    first_s: float  # first reading showing it: the controller wrote it before
    after_s: float | None  # the reading before: the controller wrote it after (None: unknown)
    until_s: float  # first reading of the next status: it may have held until then
    status: HpaStatus | None
    known: tuple[int, int] | None  # the rule's recommendation, once the pods have settled
    bounds: tuple[int, int] | None  # what it may be (= known once settled; None: pods moving)

    @property
    def earliest_s(self) -> float:
        """The earliest moment the controller may have made this decision."""
        return float("-inf") if self.after_s is None else self.after_s - _LATENCY_S

    @property
    def decision(self) -> tuple[int, int] | None:
        """(current, desired) of the status."""
        if self.status is None:
            return None
        return self.status.current_replicas, self.status.desired_replicas


_Bounds = tuple[int, int] | None


def _runs(samples: Sequence[HpaSample], timings: ReplayTimings) -> list[_Run]:
    """Group consecutive readings of one status; note when each was first seen and by whom."""
    starts: list[tuple[int, _Bounds, _Bounds]] = []  # (index of first reading, known, bounds)
    since: tuple[float, int] | None = None  # (settled since, at this many replicas)
    for index, sample in enumerate(samples):
        status = sample.status
        if status is None or not sample.settled:
            since = None
        elif since is None or since[1] != status.current_replicas:
            since = (sample.at_s, status.current_replicas)
        if not index or status != samples[index - 1].status:
            settled_s = None if since is None else sample.at_s - since[0]
            starts.append((index, *_evidence(status, settled_s, timings)))
    runs = []
    for number, (index, known, bounds) in enumerate(starts):
        later = starts[number + 1][0] if number + 1 < len(starts) else None
        runs.append(
            _Run(
                first_s=samples[index].at_s,
                after_s=samples[index - 1].at_s if index else None,
                until_s=samples[later].at_s if later is not None else samples[-1].at_s,
                status=samples[index].status,
                known=known,
                bounds=bounds,
            )
        )
    return runs


def _evidence(
    status: HpaStatus | None, settled_s: float | None, timings: ReplayTimings
) -> tuple[_Bounds, _Bounds]:
    """(known, bounds) of a status read when the pods had been settled `settled_s` seconds."""
    if status is None or settled_s is None:
        return None, None
    rule = rule_range(status, tolerance=timings.tolerance)
    if rule is None or settled_s >= timings.settle_s:
        return rule, rule
    return None, _unsettled_bounds(status, rule, timings.tolerance)


def _unsettled_bounds(
    status: HpaStatus, rule: tuple[int, int], tolerance: float
) -> tuple[int, int]:
    """What the recommendation may be while new pods' CPU figures are missing (module doc)."""
    per_pod = replace(status, metrics=tuple(m for m in status.metrics if m.source == "Pods"))
    floor = rule_range(per_pod, tolerance=tolerance) if per_pod.metrics else None
    current = min(max(status.current_replicas, status.min_replicas), status.max_replicas)
    low = status.min_replicas if floor is None else min(floor[0], current)
    return low, max(rule[1], current)


class _Replay:
    """The timeline's runs with the questions the judgement asks of them."""

    def __init__(self, samples: Sequence[HpaSample], timings: ReplayTimings) -> None:
        self.samples = sorted(samples, key=lambda s: s.at_s)
        self.timings = timings
        self.runs = _runs(self.samples, timings)
        self.rescales = [
            run
            for run in self.runs
            if _decided(run.status) and run.decision and run.decision[0] != run.decision[1]
        ]

    def blind(self, start_s: float, end_s: float) -> bool:
        """The timeline cannot see every recommendation made in (start_s, end_s]."""
        if not self.samples or self.samples[0].at_s > start_s:
            return True
        inside = [s.at_s for s in self.samples if start_s < s.at_s <= end_s]
        before = [s.at_s for s in self.samples if s.at_s <= start_s]
        points = before[-1:] + inside
        return any(b - a > self.timings.sync_period_s for a, b in pairwise(points))

    def highest_surely_in_window(self, run: _Run, window_s: float) -> _Run | None:
        """Of the recommendations surely inside `run`'s window, the one with the highest low."""
        inside = [
            other
            for other in self.runs
            if other.bounds is not None
            and other.first_s < run.first_s
            and other.earliest_s > run.first_s - window_s
        ]
        return max(inside, key=lambda r: (r.bounds[0] if r.bounds else 0, r.first_s), default=None)

    def possibly_in_window(self, run: _Run, window_s: float) -> tuple[float, list[_Run]]:
        """The start of the widest window `run`'s decision may have had, and the runs in it."""
        start = run.earliest_s - window_s
        return start, [o for o in self.runs if o.until_s > start and o.first_s < run.first_s]

    def window_allows(self, run: _Run, desired: int, window_s: float) -> tuple[bool, str]:
        """Could a recommendation of `desired` or more be inside the window? (yes, why)."""
        start, seen = self.possibly_in_window(run, window_s)
        if self.blind(start, run.first_s):
            return True, "the timeline cannot see the whole window"
        if any(o.bounds is None for o in seen):
            return True, "the window holds moments the pods were moving"
        highest = max((o.bounds[1] for o in seen if o.bounds is not None), default=0)
        if highest >= desired:
            return True, f"the rule recommended {highest} within the window"
        span = run.first_s - start
        return False, f"no recommendation of the last {span:.0f} s was above {highest}"

    def up_limit_range(self, run: _Run, rules: ScalingRules | None) -> tuple[int, int]:
        """The scale-up limit for every event timing the timeline allows."""
        return _limit_range(self, run, lambda events, now: _up(run, rules, events, now))

    def down_limit_range(self, run: _Run, rules: ScalingRules | None) -> tuple[int, int]:
        """The scale-down floor for every event timing the timeline allows."""
        return _limit_range(self, run, lambda events, now: _down(run, rules, events, now))


def _up(run: _Run, rules: ScalingRules | None, events: list[ScaleEvent], now: float) -> int:
    assert run.decision is not None
    return scale_up_limit(run.decision[0], rules, events, now_s=now)


def _down(run: _Run, rules: ScalingRules | None, events: list[ScaleEvent], now: float) -> int:
    assert run.decision is not None
    return scale_down_limit(run.decision[0], rules, events, now_s=now)


def _limit_range(replay: _Replay, run: _Run, limit: _Limit) -> tuple[int, int]:
    """The limit for the earliest and latest moments the rescales and the decision may have had."""
    before = [r for r in replay.rescales if r.first_s < run.first_s and r.decision is not None]
    latest = [ScaleEvent(r.first_s, r.decision[1] - r.decision[0]) for r in before if r.decision]
    earliest = [
        ScaleEvent(max(r.earliest_s, r.first_s - replay.timings.sync_period_s), e.change)
        for r, e in zip(before, latest, strict=True)
    ]
    moments = (run.first_s, max(run.earliest_s, run.first_s - replay.timings.sync_period_s))
    values = [limit(events, now) for events in (latest, earliest) for now in moments]
    return min(values), max(values)


def judge_rule(samples: Iterable[HpaSample], timings: ReplayTimings | None = None) -> RuleSummary:
    """Judge every decision the timeline shows (each distinct HPA status once); see module doc."""
    settings = timings or ReplayTimings()
    replay = _Replay(list(samples), settings)
    checks = [c for c in (_judge(replay, run) for run in replay.runs) if c is not None]
    return RuleSummary(tuple(checks))


def _decided(status: HpaStatus | None) -> bool:
    """The status carries a decision of its sync.

    A new HPA reports desiredReplicas 0 until it first decides; a sync that cannot compute a
    count (ScalingActive False: a metric it cannot read, and upstream refuses a scale-in then)
    leaves the last decision standing, so it holds the replicas but decides nothing.
    """
    if status is None or status.desired_replicas < max(status.min_replicas, 1):
        return False
    active = status.condition("ScalingActive")
    return active is None or active.status != "False"


def _judge(replay: _Replay, run: _Run) -> RuleCheck | None:
    status = run.status
    if status is None or status.desired_replicas < max(status.min_replicas, 1):
        return None  # no decision yet
    current, desired = status.current_replicas, status.desired_replicas
    window = replay.timings.scale_down_window_s
    decided = _decided(status)
    early = _early(replay, run, window) if decided and desired < current else None
    if early is not None:
        return _check(run, status, RuleOutcome.SCALED_IN_EARLY, early)
    if run.known is None:
        return None
    low, high = run.known
    if not decided:  # only a hold can be judged: the replicas it keeps past the window
        return _above(replay, run, status, window) if high < desired <= current else None
    if low <= desired <= high:
        return _check(run, status, RuleOutcome.MATCH)
    if desired > high:
        return _above(replay, run, status, window)
    return _below(replay, run, status)


def _early(replay: _Replay, run: _Run, window_s: float) -> str | None:
    """Why a scale-in came before the window ended, or None when it did not (or cannot tell)."""
    assert run.status is not None
    higher = replay.highest_surely_in_window(run, window_s)
    if higher is None or higher.bounds is None or higher.bounds[0] <= run.status.desired_replicas:
        return None
    ago = run.first_s - higher.first_s
    return (
        f"the rule recommended {higher.bounds[0]} only {ago:.1f} s earlier, inside the "
        f"{window_s:g} s scale-down stabilisation window, so the HPA had to keep "
        f"{min(higher.bounds[0], run.status.current_replicas)}{_declared(run.status, window_s)}"
    )


def _above(replay: _Replay, run: _Run, status: HpaStatus, window_s: float) -> RuleCheck:
    """The HPA chose more than the rule: the window, a scale-down rate, or a hold too long."""
    current, desired = status.current_replicas, status.desired_replicas
    allowed, why = replay.window_allows(run, desired, window_s)
    if allowed:
        return _check(run, status, RuleOutcome.STABILISED, why)
    if desired > current:
        return _check(run, status, RuleOutcome.MISMATCH, why)
    down = status.behavior.scale_down if status.behavior else None
    if down is not None and down.select is not SelectPolicy.DISABLED:
        low, high = replay.down_limit_range(run, down)
        if max(low, status.min_replicas) <= desired <= max(high, status.min_replicas):
            rate = f"behavior.scaleDown allows no fewer than {desired} now ({down.describe()})"
            return _check(run, status, RuleOutcome.RATE_LIMITED, rate)
    held = f"{why}, so the {window_s:g} s window had ended and the scale-in is due"
    if down is not None and down.select is SelectPolicy.DISABLED:
        held += "; the HPA's behavior.scaleDown.selectPolicy is Disabled"
    blind = [m.name for m in status.metrics if m.current is None]
    if blind:  # upstream refuses to scale in while any metric is unavailable
        active = status.condition("ScalingActive")
        said = f" ({active.reason}: {active.message})" if active and active.status != "True" else ""
        held += f"; the HPA cannot read {', '.join(blind)}{said}"
    return _check(run, status, RuleOutcome.HELD_PAST_WINDOW, held + _declared(status, window_s))


def _below(replay: _Replay, run: _Run, status: HpaStatus) -> RuleCheck:
    """The HPA chose less than the rule: a scale-up rate limit or window, else a mismatch."""
    current, desired = status.current_replicas, status.desired_replicas
    if desired < current:
        return _check(run, status, RuleOutcome.MISMATCH, "scaled in below the rule")
    up = status.behavior.scale_up if status.behavior else None
    low, high = replay.up_limit_range(run, up)
    low, high = min(low, status.max_replicas), min(high, status.max_replicas)
    if low <= desired <= high:
        policy = up.describe() if up else "at most double, at least 4 (no spec.behavior)"
        return _check(run, status, RuleOutcome.RATE_LIMITED, f"scale-up limit {policy}")
    if up is not None and (up.window_s or 0) > 0:
        start, seen = replay.possibly_in_window(run, up.window_s or 0.0)
        if replay.blind(start, run.first_s) or any(
            o.bounds is None or o.bounds[0] <= desired for o in seen
        ):
            return _check(
                run, status, RuleOutcome.STABILISED, "held by the scale-up stabilisation window"
            )
    return _check(
        run, status, RuleOutcome.MISMATCH, f"below the rule and the scale-up limit {low}..{high}"
    )


def _declared(status: HpaStatus, window_s: float) -> str:
    declared = _declared_window_s(status)
    if declared is None or declared == window_s:
        return ""
    return (
        f" (the HPA declares behavior.scaleDown.stabilizationWindowSeconds {declared:g}, "
        f"the profile expects {window_s:g} s)"
    )


def _check(run: _Run, status: HpaStatus, outcome: RuleOutcome, why: str = "") -> RuleCheck:
    observed = ", ".join(m.describe() for m in status.metrics if m.current is not None)
    low, high = run.known if run.known is not None else (None, None)
    return RuleCheck(
        run.first_s,
        status.current_replicas,
        status.desired_replicas,
        low,
        high,
        outcome,
        observed or "no metric",
        why,
    )
