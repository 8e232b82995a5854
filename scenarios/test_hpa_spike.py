"""RUNBOOKS.md §3.9 `hpa-spike`: a load spike; the HorizontalPodAutoscaler must scale out and in.

Runbook steps drilled: observe the HPA (current vs desired, as `kubectl describe hpa` shows),
spike the load with Locust (the fault), first scale-up (time to scale), target replicas Ready,
p95 and error ratio during the ramp, back under the thresholds, scale-in after the spike once
the stabilisation window has passed. Checked on top of RTO/RPO: every settled HPA decision
equals `desired_replicas(...)` for the metrics the HPA reported, or is what the upstream
controller's behaviour makes of it, replayed from the timeline (`drills.probes.hpa_replay`): a
scale-in before the profile's `scale_down_window` ends FAILs, and so does one that never comes
once the window is over; replicas stay within the profile's `[autoscaling]` range (3-10 [002]),
the scale-up starts within `scale_up_within`.

Real failures are FAIL: scaled pods that never become Ready, or users that never come back under
the p95 and error thresholds, are waited for until the RTO budget is spent (then the RTO is
breached), and users still over the thresholds when the spike ends FAIL at once. A spike that
never pushes the HPA's metrics past the point where it acts, or that this machine cannot sustain
(the HPA scales back in by the rule while users are served), is COULD_NOT_VERIFY, and so is a
ramp without a single completed request to judge p95 and errors by.
"""

from __future__ import annotations

import pytest

from drills import (
    Database,
    Drill,
    Profile,
    Workload,
    endpoints_listed,
    replicas_ready,
    wait_until,
)
from drills.core.conditions import Condition, Observation
from drills.core.errors import CouldNotVerify
from drills.core.profile import AutoscalingSettings, Thresholds
from drills.probes.autoscaling import (
    HpaSample,
    peak_pressure,
    range_breaches,
    replicas_above,
    replicas_settled_at,
)
from drills.probes.hpa_replay import RuleCheck, RuleOutcome
from drills.targets.ports.autoscaling import Autoscaler, HpaStatus
from fixtures.autoscaling import HpaTimeline, LoadSpike, settle_back, spike_shape
from fixtures.kube import ReplicaSampler
from fixtures.load import Traffic

TOLERANCE = 0.1  # the HPA's default: it acts only when a metric is >10% off its target


@pytest.mark.gate
@pytest.mark.drill(id="hpa-spike", runbook="RUNBOOKS.md §3.9", service="shop", severity="P2")
def test_hpa_spike(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    shop: Workload,
    traffic: Traffic,
    database: Database,
    autoscaler: Autoscaler,
    hpa_timeline: HpaTimeline,
    replica_timeline: ReplicaSampler,
) -> None:
    scaling, limits, waits = drill_profile.autoscaling, drill_profile.thresholds, drill.spec.waits
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, limits)
    baseline = shop.desired_replicas()
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    shape = spike_shape(drill_profile, waits)
    drill.defer(
        "scale the shop back to its baseline replicas",
        lambda: _leave_as_found(drill, shop, traffic, baseline, scaling),
    )
    started_s = drill.clock.now()
    traffic.start(shape)
    drill.expect_steady_state(serving & users_ok, timeout_s=shape.ramp_at_s - 1.0)

    with drill.step("Observe the HPA: current vs desired (kubectl describe hpa)"):
        _observe(drill, autoscaler.status())
    spike = LoadSpike(
        shape, traffic.load.users, traffic.stop, drill.clock, started_s, tuple(traffic.load.pids)
    )
    with drill.step("Spike the load (Locust)"):
        drill.inject(spike)
    fault_at = drill.fault_at_s or drill.clock.now()

    with drill.step("First scale-up (time to scale)"):
        scaled = wait_until(
            replicas_above(shop, baseline),
            clock=drill.clock,
            timeout_s=scaling.scale_up_within_s,
            poll_s=0.2,
            raise_on_timeout=False,
        )
        if not scaled.met:
            _no_scale_up(drill, autoscaler, hpa_timeline.samples(fault_at), scaling)
        drill.record_since_fault("time to scale", target_s=scaling.scale_up_within_s)

    with drill.step("Target replicas Ready"):
        drill.await_recovery(  # pods that never become Ready breach the RTO: FAIL
            replicas_settled_at(shop) & replicas_above(shop, baseline),
            timeout_s=_rto_left_s(drill),
            stable_for_s=0,
            milestone="time to target replicas Ready",
        )
        drill.record_figure("replicas after scale-up", float(shop.desired_replicas()), "pods")

    with drill.step("p95 and error ratio during the ramp"):
        ramp = traffic.recorder.window(fault_at, drill.clock.now())
        drill.record_figure(
            "p95 latency during the ramp", ramp.p95_ms, "ms", target=limits.p95_latency_s * 1000
        )
        drill.record_figure(
            "error ratio during the ramp", ramp.error_ratio, "ratio", target=limits.error_ratio
        )

    with drill.step("Back under the thresholds, scaled out"):
        _await_users_back(
            drill, shop, traffic, spike, baseline, serving & users_ok, hpa_timeline, scaling
        )

    with drill.step("Scale-in after the spike (stabilisation window)"):
        _await_scale_in(drill, shop, traffic, spike, baseline, hpa_timeline, scaling)

    traffic.record_user_side(drill, since_s=fault_at)
    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    drill.assert_rpo(traffic.verify_writes(drill, database, existing=existing).report)
    hpa_timeline.stop()
    _assert_hpa_followed_the_rule(drill, hpa_timeline, scaling)
    _assert_ramp_within_thresholds(limits, ramp.p95_ms, ramp.error_ratio)


def _observe(drill: Drill, status: HpaStatus | None) -> None:
    """Record what `kubectl describe hpa` shows before the spike."""
    if status is None:
        drill.record_figure("HPA desired before the spike", None, "pods", detail="HPA not found")
        return
    drill.record_figure(
        "HPA desired before the spike",
        float(status.desired_replicas),
        "pods",
        detail=status.describe(),
    )


def _no_scale_up(
    drill: Drill, autoscaler: Autoscaler, samples: list[HpaSample], scaling: AutoscalingSettings
) -> None:
    """Say why nothing scaled: no HPA (FAIL), a spike too small (COULD_NOT_VERIFY), or the HPA."""
    bound = f"{scaling.scale_up_within_s:g} s"
    drill.record_since_fault("time to scale", target_s=scaling.scale_up_within_s)
    status = autoscaler.status()
    if status is None:
        raise AssertionError(
            f"the deployment did not scale within {bound} of the spike: no "
            f"HorizontalPodAutoscaler '{autoscaler.name}' exists in {autoscaler.namespace} "
            "(runbook §3.9: re-apply the HPA manifest; meanwhile `kubectl scale "
            f"--replicas={scaling.max_replicas}` by hand)"
        )
    if status.max_replicas <= status.current_replicas:
        raise AssertionError(
            f"the deployment did not scale within {bound} of the spike: the HPA cannot scale, "
            f"its maxReplicas {status.max_replicas} is not above the {status.current_replicas} "
            f"replicas running (the runbook's range is {scaling.min_replicas}.."
            f"{scaling.max_replicas}): {status.describe()}"
        )
    peaks = peak_pressure(samples)
    pressed = {name: ratio for name, ratio in peaks.items() if ratio > 1 + TOLERANCE}
    seen = ", ".join(f"{n} {100 * r:.0f}% of target" for n, r in peaks.items()) or "no metric"
    if not pressed:
        raise CouldNotVerify(
            f"the spike never pushed the HPA's metrics past {100 * (1 + TOLERANCE):.0f}% of "
            f"their targets (peak: {seen}), so no HPA would scale; this machine could not "
            "load the shop enough: raise [autoscaling] spike_factor (or [load.shapes.spike] "
            "users) or run the drill on a machine of its own"
        )
    raise AssertionError(
        f"the deployment did not scale within {bound} of the spike although the HPA saw "
        f"{seen}: {status.describe()}"
    )


def _rto_left_s(drill: Drill) -> float:
    """What is left of the RTO budget, plus a second so a timeout lands past the target."""
    spent_s = drill.clock.now() - (drill.fault_at_s or drill.clock.now())
    return max(1.0, drill.rto_target_s() - spent_s + 1.0)


class _WaitEnded(Exception):
    """The awaited state can no longer come: the spike is over or the pods are scaled back."""


def _await_users_back(  # noqa: PLR0913 - the figures the wait is made of
    drill: Drill,
    shop: Workload,
    traffic: Traffic,
    spike: LoadSpike,
    baseline: int,
    healthy: Condition,
    timeline: HpaTimeline,
    scaling: AutoscalingSettings,
) -> None:
    """Users back under the thresholds, scaled out, while the spike lasts: up to the RTO budget.

    Recovery only counts under the spike's load with the pods scaled out. When the HPA scales
    back to the baseline first, a replayed early scale-in FAILs; otherwise the load per pod fell
    as the rule says, and users still over the thresholds FAIL while users served means this
    machine could not sustain the spike (COULD_NOT_VERIFY). When the spike ends first, users
    never came back under the thresholds during it: FAIL.
    """
    scaled_out = replicas_above(shop, baseline)

    def check() -> Observation:
        if shop.desired_replicas() <= baseline:
            raise _WaitEnded("scaled back")
        if traffic.load.users() <= spike.shape.baseline_users:
            raise _WaitEnded("spike over")
        return (scaled_out & healthy)()

    try:
        drill.await_recovery(
            Condition("users back, scaled out", check), timeout_s=_rto_left_s(drill)
        )
    except _WaitEnded as ended:
        users = healthy()
        if str(ended) == "spike over":
            raise AssertionError(
                f"users never came back under the p95 and error thresholds during the "
                f"{spike.shape.hold_s:g} s spike although the HPA scaled out to "
                f"{shop.desired_replicas()} replicas (last: {users.detail})"
            ) from None
        _explain_scaled_back(drill, baseline, timeline, scaling, users)


def _explain_scaled_back(
    drill: Drill,
    baseline: int,
    timeline: HpaTimeline,
    scaling: AutoscalingSettings,
    users: Observation,
) -> None:
    """The HPA scaled back to the baseline while the spike was on: say whose fault that is."""
    summary = timeline.judge(scaling, tolerance=TOLERANCE)
    early = summary.first(RuleOutcome.SCALED_IN_EARLY)
    if early is not None:
        raise AssertionError(
            f"the HPA scaled back in while the spike was on, {_at(drill, early)}: "
            f"{early.describe()}"
        )
    if not users.ok:
        raise AssertionError(
            f"the HPA scaled back to {baseline} replicas while the spike was on and users were "
            f"over the thresholds ({users.detail})"
        )
    late = timeline.samples()[len(timeline.samples()) // 2 :]
    seen = ", ".join(f"{n} {100 * r:.0f}%" for n, r in peak_pressure(late).items())
    raise CouldNotVerify(
        f"the HPA scaled back to {baseline} replicas while the spike was still on, as the rule "
        f"says when the load per pod falls (late peak vs target: {seen}); this machine could not "
        "sustain the spike's load: raise [autoscaling] spike_factor or run the drill on a "
        "machine of its own"
    )


def _await_scale_in(  # noqa: PLR0913 - the figures the wait is made of
    drill: Drill,
    shop: Workload,
    traffic: Traffic,
    spike: LoadSpike,
    baseline: int,
    timeline: HpaTimeline,
    scaling: AutoscalingSettings,
) -> None:
    """Wait for the spike to end, then for the HPA to bring the replicas back to the baseline.

    The wait ends early when the replay finds the HPA holding its replicas after the expected
    stabilisation window ended: the scale-in that never comes FAILs with the replay's reason.
    """
    ends = spike.ends_at_s or drill.clock.now()
    over = Condition(
        "the spike is over", lambda: traffic.load.users() <= spike.shape.baseline_users
    )
    wait_until(
        over,
        clock=drill.clock,
        timeout_s=max(ends - drill.clock.now(), 0.0) + 30.0,
        poll_s=0.2,
        description="Locust back at the baseline users",
    )
    ended = drill.clock.now()

    def held_too_long() -> RuleCheck | None:
        summary = timeline.judge(scaling, tolerance=TOLERANCE)
        return next(
            (
                c
                for c in summary.checks
                if c.outcome is RuleOutcome.HELD_PAST_WINDOW and c.at_s >= ended
            ),
            None,
        )

    held = Condition("the HPA holds past its window", lambda: held_too_long() is not None)
    back = wait_until(
        replicas_settled_at(shop, baseline) | held,
        clock=drill.clock,
        timeout_s=scaling.scale_in_within_s,
        poll_s=0.5,
        raise_on_timeout=False,
    )
    drill.record_figure(
        "time to scale in",
        drill.clock.now() - ended,
        "s",
        target=scaling.scale_in_within_s,
        detail="spike end -> back at the baseline replicas, all Ready",
    )
    hold = held_too_long()
    if hold is not None:
        raise AssertionError(
            f"the HPA did not scale back in after its stabilisation window, {_at(drill, hold)}: "
            f"{hold.describe()}"
        )
    if not back.met:
        raise AssertionError(
            f"the deployment did not scale back in within {scaling.scale_in_within_s:g} s "
            f"of the spike's end ({back.last.detail})"
        )


def _at(drill: Drill, check: RuleCheck) -> str:
    return f"at t={check.at_s - drill.started_s:.1f}s"


def _assert_hpa_followed_the_rule(
    drill: Drill, timeline: HpaTimeline, scaling: AutoscalingSettings
) -> None:
    """Every decision is the rule's or the replayed behaviour's; replicas stay within the range."""
    samples = timeline.samples()
    timings = timeline.timings(scaling, tolerance=TOLERANCE)
    summary = timeline.judge(scaling, tolerance=TOLERANCE)
    scaling_checks = summary.scaling
    example = (scaling_checks or summary.checks or (None,))[0]
    drill.record_figure(
        "HPA decisions checked against desired_replicas",
        float(len(summary.checks)),
        "decisions",
        detail=example.describe() if example else "no settled sample",
    )
    drill.record_figure(
        "HPA decisions the rule cannot explain", float(len(summary.mismatches)), "decisions"
    )
    drill.record_figure(
        "HPA decisions held by stabilisation or rate policy",
        float(summary.count(RuleOutcome.STABILISED) + summary.count(RuleOutcome.RATE_LIMITED)),
        "decisions",
    )
    drill.record_figure(
        "scale-down stabilisation window judged by",
        timings.scale_down_window_s,
        "s",
        detail=_window_source(samples, scaling),
    )
    peak = max((s.status.current_replicas for s in samples if s.status), default=0)
    drill.record_figure("peak replicas", float(peak), "pods", target=float(scaling.max_replicas))
    if summary.mismatches:
        first = summary.mismatches[0]
        raise AssertionError(
            f"{len(summary.mismatches)} HPA decision(s) differ from desired_replicas and the "
            f"upstream behaviour: {first.describe()} {_at(drill, first)}"
        )
    if not scaling_checks:
        raise CouldNotVerify(
            "no scaling decision was sampled while the pods were settled, so the HPA's choice "
            "could not be compared with desired_replicas"
        )
    breaches = range_breaches(samples, scaling.min_replicas, scaling.max_replicas)
    statuses = [s.status for s in samples if s.status is not None]
    ranges = {(s.min_replicas, s.max_replicas) for s in statuses}
    wanted = (scaling.min_replicas, scaling.max_replicas)
    if ranges - {wanted}:
        breaches.insert(0, f"HPA range {sorted(ranges)} is not the profile's {wanted}")
    if breaches:
        raise AssertionError(f"replicas left the range: {'; '.join(breaches[:3])}")


def _window_source(samples: list[HpaSample], scaling: AutoscalingSettings) -> str:
    """Where the judged window comes from, beside what the HPA declares."""
    latest = next((s.status for s in reversed(samples) if s.status), None)
    declared = None
    if latest is not None and latest.behavior is not None:
        declared = latest.behavior.scale_down.window_s
    said = "the controller's default" if declared is None else f"{declared:g} s"
    source = (
        "the profile's scale_down_window"
        if scaling.scale_down_window_s is not None
        else ("the HPA's spec" if declared is not None else "upstream's default")
    )
    return f"{source}; the HPA's behavior.scaleDown declares {said}"


def _assert_ramp_within_thresholds(
    limits: Thresholds, p95_ms: float | None, error_ratio: float | None
) -> None:
    """The runbook's bar for the ramp: p95 and error ratio under the profile's thresholds.

    A ramp without a p95 or error figure (no request completed) proves nothing: COULD_NOT_VERIFY.
    """
    missing = [name for name, v in (("p95", p95_ms), ("error ratio", error_ratio)) if v is None]
    if missing:
        raise CouldNotVerify(
            f"no {' or '.join(missing)} during the ramp (no user request completed between the "
            "spike and the target replicas Ready), so the ramp's thresholds could not be checked"
        )
    problems = []
    if p95_ms is not None and p95_ms > limits.p95_latency_s * 1000:
        problems.append(f"p95 {p95_ms:.0f} ms above {limits.p95_latency_s * 1000:.0f} ms")
    if error_ratio is not None and error_ratio > limits.error_ratio:
        problems.append(f"error ratio {error_ratio:.3f} above {limits.error_ratio}")
    if problems:
        raise AssertionError(f"during the ramp users suffered: {'; '.join(problems)}")


def _leave_as_found(
    drill: Drill, shop: Workload, traffic: Traffic, baseline: int, scaling: AutoscalingSettings
) -> None:
    traffic.stop()  # no load: the HPA scales in on its own once its window has passed
    settle_back(
        shop,
        baseline,
        drill.clock,
        timeout_s=scaling.scale_in_within_s,
        poll_s=drill.spec.waits.poll_s,
    )
