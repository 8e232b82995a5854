"""RUNBOOKS.md §3.9 `hpa-spike`: a load spike; the HorizontalPodAutoscaler must scale out and in.

Runbook steps drilled, from an HPA at rest (so the baseline is not one it is still moving):
observe the HPA (current vs desired, as `kubectl describe hpa` shows), spike the load with
Locust (the fault), first scale-up (TTD: "time to scale"), target replicas Ready, p95 and
error ratio during the ramp, back under the thresholds, scale-in after the spike once the
stabilisation window has passed. Checked on top of RTO/RPO: every settled HPA decision
equals `desired_replicas(...)` for the metrics the HPA reported, or is what the upstream
controller's behaviour makes of it, replayed from the timeline (`drills.probes.hpa_replay`): a
scale-in before the profile's `scale_down_window` ends FAILs, and so does one that never comes
once the window is over; replicas stay within the profile's `[autoscaling]` range (3-10 [002]),
the scale-up starts within `scale_up_within`.

Real failures are FAIL (`fixtures.hpa_waits`): scaled pods that never become Ready, or users
that never come back under the p95 and error thresholds, are waited for until the RTO budget is
spent (then the RTO is breached), and either still failing when the spike ends FAILs at once. A
spike that never pushes the HPA's metrics past the point where it acts, or that this machine
cannot sustain (the HPA scales back in by the rule while users are served), is
COULD_NOT_VERIFY, and so is a ramp without a single completed request to judge p95 and errors by.

Variants (`fixtures.hpa_variants`): `healthy` (the default) is the above. `no-metrics` (every
metrics API the HPA reads taken down) and `no-hpa` (the HPA deleted) break the HPA as the spike
begins; the runbook's detection and manual recovery are in `fixtures.hpa_broken`.
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
)
from drills.core.errors import CouldNotVerify
from drills.core.profile import AutoscalingSettings, Endpoints
from drills.probes.autoscaling import (
    HpaSample,
    hpa_at_rest,
    peak_pressure,
    range_breaches,
    replicas_above,
    replicas_settled_at,
)
from drills.probes.hpa_replay import RuleCheck, RuleOutcome
from drills.targets.ports.autoscaling import Autoscaler, HpaStatus
from fixtures.autoscaling import HpaTimeline, LoadSpike, spike_shape
from fixtures.hpa_broken import BrokenHpaDrill, leave_as_found
from fixtures.hpa_variants import HEALTHY, VARIANTS
from fixtures.hpa_waits import HPA_TOLERANCE, SpikeWatch, judge_ramp
from fixtures.kube import ReplicaSampler
from fixtures.load import Traffic


@pytest.mark.gate
@pytest.mark.drill(
    id="hpa-spike",
    runbook="RUNBOOKS.md §3.9",
    service="shop",
    severity="P2",
    variants=VARIANTS,
)
def test_hpa_spike(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    drill_variant: str,
    shop: Workload,
    traffic: Traffic,
    database: Database,
    autoscaler: Autoscaler,
    hpa_timeline: HpaTimeline,
    replica_timeline: ReplicaSampler,
    drill_endpoints: Endpoints,
) -> None:
    if drill_variant != HEALTHY:
        broken = BrokenHpaDrill(
            drill, drill_profile, drill_variant, shop, autoscaler, drill_endpoints
        )
        broken.run(traffic, database)
        return
    scaling, limits, waits = drill_profile.autoscaling, drill_profile.thresholds, drill.spec.waits
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, limits)
    # The baseline is measured from rest: not while the HPA still acts on an earlier load.
    drill.expect_steady_state(
        hpa_at_rest(autoscaler, shop),
        timeout_s=scaling.scale_in_within_s + waits.stability_window_s,
    )
    baseline = shop.desired_replicas()
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    shape = spike_shape(drill_profile, waits)
    drill.defer(
        "scale the shop back to its baseline replicas",
        lambda: leave_as_found(drill, shop, traffic, baseline, scaling),
    )
    started_s = drill.clock.now()
    traffic.start(shape)
    drill.expect_steady_state(serving & users_ok, timeout_s=shape.ramp_at_s - 1.0)

    with drill.step("Observe the HPA: current vs desired (kubectl describe hpa)"):
        _observe(drill, autoscaler.status())
    spike = LoadSpike(
        shape, traffic.load.users, traffic.stop, drill, started_s, tuple(traffic.load.pids)
    )
    with drill.step("Spike the load (Locust)"):
        drill.inject(spike)
    fault_at = drill.fault_at_s or drill.clock.now()

    with drill.step("First scale-up (time to scale)"):
        scaled = drill.wait_until(
            replicas_above(shop, baseline),
            timeout_s=scaling.scale_up_within_s,
            poll_s=0.2,
            raise_on_timeout=False,
        )
        if not scaled.met:
            _no_scale_up(drill, autoscaler, hpa_timeline.samples(fault_at), scaling)
        drill.record_detected(
            "the HPA saw the load and raised the replicas (time to scale)",
            target_s=scaling.scale_up_within_s,
        )

    watch = SpikeWatch(drill, shop, spike, baseline, hpa_timeline, scaling, users_ok)
    with drill.step("Target replicas Ready"):
        watch.await_during(
            replicas_settled_at(shop) & replicas_above(shop, baseline),
            failing="the scaled-out pods were never all Ready",
            stable_for_s=0,
            milestone="time to target replicas Ready",
        )
        drill.record_figure(
            "replicas after scale-up",
            float(shop.desired_replicas()),
            "pods",
            target=float(scaling.max_replicas),
        )

    with drill.step("p95 and error ratio during the ramp"):
        ramp = traffic.recorder.window(fault_at, drill.clock.now())
        drill.record_figure(
            "p95 latency during the ramp", ramp.p95_ms, "ms", target=limits.p95_latency_s * 1000
        )
        drill.record_figure(
            "error ratio during the ramp", ramp.error_ratio, "ratio", target=limits.error_ratio
        )

    with drill.step("Back under the thresholds, scaled out"):
        watch.await_during(
            replicas_above(shop, baseline) & serving & users_ok,
            failing="users stayed over the p95 and error thresholds",
        )

    with drill.step("Scale-in after the spike (stabilisation window)"):
        watch.await_scale_in()

    traffic.record_user_side(drill, since_s=fault_at)
    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    drill.assert_rpo(traffic.verify_writes(drill, database, existing=existing).report)
    hpa_timeline.stop()
    _assert_hpa_followed_the_rule(drill, hpa_timeline, scaling)
    judge_ramp(limits, ramp.p95_ms, ramp.error_ratio)


_BEFORE = "the starting point the spike is measured from"


def _observe(drill: Drill, status: HpaStatus | None) -> None:
    """Record what `kubectl describe hpa` shows before the spike."""
    if status is None:
        drill.record_figure(
            "HPA desired before the spike", None, "pods", detail="HPA not found", no_target=_BEFORE
        )
        return
    drill.record_figure(
        "HPA desired before the spike",
        float(status.desired_replicas),
        "pods",
        detail=status.describe(),
        no_target=_BEFORE,
    )


def _no_scale_up(
    drill: Drill, autoscaler: Autoscaler, samples: list[HpaSample], scaling: AutoscalingSettings
) -> None:
    """Say why nothing scaled: no HPA (FAIL), a spike too small (COULD_NOT_VERIFY), or the HPA."""
    bound = f"{scaling.scale_up_within_s:g} s"
    drill.record_not_detected(f"the HPA did not raise the replicas within {bound}")
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
    pressed = {name: ratio for name, ratio in peaks.items() if ratio > 1 + HPA_TOLERANCE}
    seen = ", ".join(f"{n} {100 * r:.0f}% of target" for n, r in peaks.items()) or "no metric"
    if not pressed:
        raise CouldNotVerify(
            f"the spike never pushed the HPA's metrics past {100 * (1 + HPA_TOLERANCE):.0f}% of "
            f"their targets (peak: {seen}), so no HPA would scale; this machine could not "
            "load the shop enough: raise [autoscaling] spike_factor (or [load.shapes.spike] "
            "users) or run the drill on a machine of its own"
        )
    raise AssertionError(
        f"the deployment did not scale within {bound} of the spike although the HPA saw "
        f"{seen}: {status.describe()}"
    )


def _at(drill: Drill, check: RuleCheck) -> str:
    return f"at t={check.at_s - drill.started_s:.1f}s"


def _assert_hpa_followed_the_rule(
    drill: Drill, timeline: HpaTimeline, scaling: AutoscalingSettings
) -> None:
    """Every decision is the rule's or the replayed behaviour's; replicas stay within the range."""
    samples = timeline.samples()
    timings = timeline.timings(scaling, tolerance=HPA_TOLERANCE)
    summary = timeline.judge(scaling, tolerance=HPA_TOLERANCE)
    scaling_checks = summary.scaling
    example = (scaling_checks or summary.checks or (None,))[0]
    drill.record_figure(
        "HPA decisions checked against desired_replicas",
        float(len(summary.checks)),
        "decisions",
        detail=example.describe() if example else "no settled sample",
        no_target="how many decisions the replay saw; the unexplained ones are judged (0)",
    )
    drill.record_figure(
        "HPA decisions the rule cannot explain",
        float(len(summary.mismatches)),
        "decisions",
        target=0.0,
    )
    drill.record_figure(
        "HPA decisions held by stabilisation or rate policy",
        float(summary.count(RuleOutcome.STABILISED) + summary.count(RuleOutcome.RATE_LIMITED)),
        "decisions",
        no_target="decisions the replay explained by the HPA's behaviour, not by the formula",
    )
    drill.record_figure(
        "scale-down stabilisation window judged by",
        timings.scale_down_window_s,
        "s",
        detail=_window_source(samples, scaling),
        no_target="a setting the replay used, not a measurement",
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
    breaches = range_breaches(
        samples, scaling.min_replicas, scaling.max_replicas, origin_s=drill.started_s
    )
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
