"""The HPA replay: each decision judged against the rule and the upstream behaviour around it.

Timelines are built as the `hpa_timeline` fixture samples them: one reading every 0.5 s, a new
HPA status every 2 s sync (the request rate moves a little each time), 10 s expected window.
"""

from __future__ import annotations

from dataclasses import replace

from drills.core.autoscaling import (
    HpaBehavior,
    PolicyKind,
    ScalingPolicy,
    ScalingRules,
    SelectPolicy,
)
from drills.probes.autoscaling import HpaSample
from drills.probes.hpa_replay import (
    ReplayTimings,
    RuleOutcome,
    expected_scale_down_window_s,
    judge_rule,
)
from drills.targets.ports.autoscaling import HpaCondition, HpaStatus, MetricReading

TIMINGS = ReplayTimings(scale_down_window_s=10.0, sync_period_s=2.0)
UP = ScalingRules(
    0.0,
    SelectPolicy.MAX,
    (ScalingPolicy(PolicyKind.PODS, 4, 15), ScalingPolicy(PolicyKind.PERCENT, 100, 15)),
)
DOWN = ScalingRules(None, SelectPolicy.MAX, (ScalingPolicy(PolicyKind.PERCENT, 100, 15),))


def rps(current: float | None, target: float = 70.0) -> MetricReading:
    return MetricReading("http_requests_per_second", "Pods", "AverageValue", target, current, 0.001)


def hpa(
    current: int,
    desired: int,
    rate: float | None,
    *,
    behavior: HpaBehavior | None = None,
    conditions: tuple[HpaCondition, ...] = (),
) -> HpaStatus:
    return HpaStatus(
        "shop", "Deployment", "shop", 3, 10, current, desired, (rps(rate),), conditions,
        behavior=behavior,
    )  # fmt: skip


def phase(
    start_s: float, end_s: float, current: int, desired: int, rate: float, **kw: object
) -> list[HpaSample]:
    """Settled readings every 0.5 s in [start, end); a new status (rate + 0.01) every 2 s."""
    samples = []
    steps = round((end_s - start_s) / 0.5)
    for i in range(steps):
        at = start_s + 0.5 * i
        status = hpa(current, desired, rate + 0.01 * (i // 4), **kw)  # type: ignore[arg-type]
        samples.append(HpaSample(at, status, current, current, current))
    return samples


def spike_then_quiet(
    scale_in_at_s: float, *, end_s: float | None = None, **kw: object
) -> list[HpaSample]:
    """6 pods at the target (rule: 6) until 20 s, then quiet (rule: 3), held at 6 until
    `scale_in_at_s`, where the HPA decides 3 (and keeps deciding 3 when `end_s` is later)."""
    samples = phase(0.0, 20.0, 6, 6, 70.0, **kw)
    samples += phase(20.0, scale_in_at_s, 6, 6, 20.0, **kw)
    samples += phase(scale_in_at_s, end_s or scale_in_at_s + 0.5, 6, 3, 20.0, **kw)
    return samples


def outcomes(samples: list[HpaSample], timings: ReplayTimings = TIMINGS) -> set[RuleOutcome]:
    return {c.outcome for c in judge_rule(samples, timings).checks}


def test_a_scale_in_once_the_window_has_passed_is_explained() -> None:
    summary = judge_rule(spike_then_quiet(31.0), TIMINGS)
    assert summary.mismatches == ()
    assert summary.count(RuleOutcome.STABILISED) >= 5  # 20..31 s: the window holds the 6
    scale_in = [c for c in summary.scaling if c.desired < c.current]
    assert [(c.at_s, c.outcome) for c in scale_in] == [(31.0, RuleOutcome.MATCH)]


def test_a_scale_in_inside_the_window_fails_though_the_rule_agrees() -> None:
    # A flapping HPA (0 s window): the rule says 3 the moment the load drops, and it follows.
    summary = judge_rule(spike_then_quiet(20.5), TIMINGS)
    [early] = summary.mismatches
    assert (early.at_s, early.outcome, early.computed) == (20.5, RuleOutcome.SCALED_IN_EARLY, "3")
    assert "recommended 6 only" in early.why
    assert "inside the 10 s scale-down stabilisation window" in early.why


def test_a_scale_in_just_before_the_window_ends_is_not_proven_early() -> None:
    # The last 6 was first seen at 18 s; a decision at 28 s may be 10 s after the HPA made it.
    assert RuleOutcome.SCALED_IN_EARLY not in outcomes(spike_then_quiet(28.0))


def test_the_hpa_names_the_window_it_declares_when_it_is_not_the_expected_one() -> None:
    flapping = HpaBehavior(UP, replace(DOWN, window_s=0.0))
    [early] = judge_rule(spike_then_quiet(20.5, behavior=flapping), TIMINGS).mismatches
    assert "declares behavior.scaleDown.stabilizationWindowSeconds 0" in early.why


def test_a_scale_in_that_never_comes_fails_once_the_window_is_over() -> None:
    disabled = HpaBehavior(UP, ScalingRules(None, SelectPolicy.DISABLED))
    samples = phase(0.0, 20.0, 6, 6, 70.0, behavior=disabled)
    samples += phase(20.0, 45.0, 6, 6, 20.0, behavior=disabled)
    summary = judge_rule(samples, TIMINGS)
    held = [c for c in summary.mismatches if c.outcome is RuleOutcome.HELD_PAST_WINDOW]
    assert held
    assert held[0].at_s > 20.0 + 10.0  # never inside the window
    assert "selectPolicy is Disabled" in held[0].why
    assert all(c.outcome is not RuleOutcome.HELD_PAST_WINDOW for c in summary.checks[:12])


def test_an_unreadable_metric_that_blocks_the_scale_in_is_named() -> None:
    inactive = HpaCondition("ScalingActive", "False", "FailedGetPodsMetric", "no metrics returned")
    cpu_low = MetricReading("cpu", "Resource", "Utilization", 70.0, 10.0, 1.0)
    base = phase(0.0, 30.0, 6, 6, 20.0)
    blind = [
        replace(s, status=replace(s.status, metrics=(cpu_low, rps(None)), conditions=(inactive,)))
        for s in base
        if s.status is not None
    ]
    for i, sample in enumerate(blind):  # a new status each sync: the CPU figure moves
        assert sample.status is not None
        moved = replace(cpu_low, current=10.0 + i // 4)
        blind[i] = replace(sample, status=replace(sample.status, metrics=(moved, rps(None))))
    held = [c for c in judge_rule(blind, TIMINGS).mismatches]
    assert held
    assert "cannot read http_requests_per_second" in held[0].why


def test_moments_the_timeline_cannot_see_explain_a_hold() -> None:
    samples = spike_then_quiet(31.0)
    moving = [
        replace(s, ready_after=s.ready_after - 1) if 20.0 <= s.at_s < 24.0 else s for s in samples
    ]
    late = phase(20.0, 34.0, 6, 6, 20.0)
    quiet = [s for s in moving if s.at_s < 31.0] + [s for s in late if s.at_s >= 31.0]
    # Unsettled at 20-24 s: a hold until 24 + 11.5 s cannot be called late.
    checks = judge_rule(quiet, TIMINGS).checks
    assert not [c for c in checks if c.outcome is RuleOutcome.HELD_PAST_WINDOW and c.at_s < 35.5]
    gap = [s for s in samples if not 22.0 <= s.at_s < 25.0]  # 3 s without a reading
    assert RuleOutcome.HELD_PAST_WINDOW not in outcomes(gap)


def test_a_scale_up_below_the_rule_is_limited_by_the_computed_rate_not_by_the_hpa_word() -> None:
    said = (HpaCondition("ScalingLimited", "True", "ScaleUpLimit"),)
    quiet = phase(0.0, 6.0, 3, 3, 70.0)
    doubled = quiet + phase(6.0, 6.5, 3, 6, 190.0)  # rule: ceil(3 x 190/70) = 9; limit 6
    short = quiet + phase(6.0, 6.5, 3, 5, 190.0, conditions=said)  # 5: no limit says so
    assert RuleOutcome.RATE_LIMITED in outcomes(doubled)
    assert RuleOutcome.MISMATCH in outcomes(short)


def test_behaviour_rates_count_the_scale_ups_the_timeline_saw() -> None:
    behaviour = HpaBehavior(UP, DOWN)
    samples = phase(0.0, 6.0, 3, 3, 70.0, behavior=behaviour)
    samples += phase(6.0, 6.5, 3, 7, 300.0, behavior=behaviour)  # rule 13 -> limit Max(7, 6)
    samples += phase(6.5, 12.0, 7, 7, 140.0, behavior=behaviour)  # rule 14; the 15 s period
    summary = judge_rule(samples, TIMINGS)  # began at 3 replicas: 7 is still the limit
    assert summary.mismatches == ()
    assert summary.count(RuleOutcome.RATE_LIMITED) >= 2
    legacy = [replace(s, status=replace(s.status, behavior=None)) for s in samples if s.status]
    assert RuleOutcome.MISMATCH in outcomes(legacy)  # without behavior 7 may double to 14


def test_a_scale_down_policy_may_slow_a_scale_in() -> None:
    slow = HpaBehavior(
        UP, ScalingRules(10.0, SelectPolicy.MAX, (ScalingPolicy(PolicyKind.PODS, 1, 60),))
    )
    samples = phase(0.0, 20.0, 6, 6, 70.0, behavior=slow)
    samples += phase(20.0, 31.0, 6, 6, 20.0, behavior=slow)
    samples += phase(31.0, 31.5, 6, 5, 20.0, behavior=slow)  # rule 3, one pod a minute
    samples += phase(31.5, 40.0, 5, 5, 20.0, behavior=slow)  # the minute is not over
    summary = judge_rule(samples, TIMINGS)
    assert summary.mismatches == ()
    assert summary.count(RuleOutcome.RATE_LIMITED) >= 2


def test_each_status_is_judged_once_and_only_when_settled_long_enough() -> None:
    samples = phase(0.0, 4.0, 3, 3, 70.0)  # two statuses, four readings each
    assert len(judge_rule(samples, TIMINGS).checks) == 2
    waited = ReplayTimings(10.0, 2.0, settle_s=3.0)
    assert [c.at_s for c in judge_rule(samples, waited).checks] == []  # first seen at 0 and 2 s
    assert [c.at_s for c in judge_rule(phase(0.0, 8.0, 3, 3, 70.0), waited).checks] == [4.0, 6.0]


def test_the_expected_window_is_the_profiles_then_the_hpas_then_upstreams() -> None:
    declared = hpa(3, 3, 70.0, behavior=HpaBehavior(UP, replace(DOWN, window_s=60.0)))
    assert expected_scale_down_window_s(declared, 10.0) == 10.0
    assert expected_scale_down_window_s(declared, None) == 60.0
    assert expected_scale_down_window_s(hpa(3, 3, 70.0), None) == 300.0
    assert expected_scale_down_window_s(None, None) == 300.0


def test_a_status_without_a_decision_is_not_judged() -> None:
    # A new HPA reports desiredReplicas 0 until its first successful sync.
    undecided = phase(0.0, 4.0, 3, 0, 45.0)
    assert judge_rule(undecided, TIMINGS).checks == ()
    # A sync that could not compute a count leaves an old decision standing: no scale-in.
    failed = HpaCondition("ScalingActive", "False", "FailedGetResourceMetric", "no metrics")
    stale = spike_then_quiet(20.5)
    stale[-1] = replace(stale[-1], status=replace(stale[-1].status, conditions=(failed,)))  # type: ignore[type-var]
    assert RuleOutcome.SCALED_IN_EARLY not in outcomes(stale)


def test_before_the_metrics_settle_the_request_rate_still_bounds_the_recommendation() -> None:
    # New pods' CPU is not counted yet (settle 30 s): the HPA may hold 6 at a rule of 3, but the
    # request rate at its target says the recommendation was at least 6.
    waited = ReplayTimings(10.0, 2.0, settle_s=30.0)
    held = judge_rule(spike_then_quiet(31.0), waited)
    assert held.mismatches == ()
    assert all(c.at_s >= 30.0 for c in held.checks)  # nothing is judged on bounds alone
    flapping = judge_rule(spike_then_quiet(20.5), waited)
    [early] = flapping.mismatches
    assert early.outcome is RuleOutcome.SCALED_IN_EARLY
    assert early.computed == "?"  # judged by the bound, not by a settled recommendation
    cpu_only = [
        replace(
            s, status=replace(s.status, metrics=(replace(s.status.metrics[0], source="Resource"),))
        )
        for s in spike_then_quiet(20.5)
        if s.status is not None
    ]
    assert judge_rule(cpu_only, waited).mismatches == ()  # CPU alone bounds nothing yet
