"""RUNBOOKS.md §3.3 `oom-memory-leak`: a leaking release is OOM-killed; raise the memory limit.

The fault rolls out the shop's leak (`LEAK_KB_PER_REQUEST`, kept forever per request) under the
profile's `[oom] limit`: 512Mi in the runbook [000], smaller in the sandbox so that the load
pushes a pod over it within seconds. The kubelet (the sandbox's node agent compares each
container's RSS with its limit) kills it: last state `OOMKilled`, exit code 137, restarts rising.

Runbook steps drilled, in order: (1) `kubectl get pods` / `kubectl describe pod`: the last state
OOMKilled with exit code 137, and the pod's limits; (2) `kubectl top pods` repeatedly for the
trend (the metrics API); (3) raise the limit (512Mi -> 1Gi [000]) and wait until it is live on
every pod; (4) spread the load: the HPA [002] is in place; then verify: no OOM kill over the
stability window, users served, and memory under 80% of the new limit [003]. Step 5, hunting
the leak, is a human follow-up and not timed. The leak stays in place through the verification,
as the runbook expects ("a leak left in place OOMs again later": the report projects when); the
fault's rollback, recorded before it acted, puts the whole pod template back when the drill ends
(the leak off, the original limit). Objectives: shop RTO 15 min [002]; no acknowledged write
lost (a kill ends requests, never committed rows).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import pytest

from drills import (
    Autoscaler,
    CouldNotVerify,
    Database,
    Drill,
    Fault,
    Profile,
    Workload,
    endpoints_listed,
    replicas_ready,
)
from drills.core.conditions import Condition, Observation
from drills.core.memory import (
    MemoryReading,
    OomKill,
    OomSettings,
    format_bytes,
    growth_per_s,
    rss_at_kill,
    seconds_after,
)
from drills.probes.memory import OomWatch, limit_live, no_oom_kill_since, oom_killed
from drills.recovery.memory_limit import LimitRaise
from drills.reporting.allure_steps import attach_json
from drills.targets.ports.memory import MemoryLimits, MetricsUnavailable
from fixtures.kube import ReplicaSampler
from fixtures.load import Traffic

RUNBOOK_LIMIT = "512Mi"  # RUNBOOKS.md §3.3: the [000] limit before its OOM fix
_EVIDENCE = "evidence of runbook step 1 (kubectl describe pod), not judged"
_TREND = "the trend of runbook step 2 (kubectl top pods); memory after the fix is judged"
_MIB = 2**20


@pytest.mark.drill(id="oom-memory-leak", runbook="RUNBOOKS.md §3.3", service="shop", severity="P1")
def test_oom_memory_leak(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    shop: Workload,
    shop_memory: MemoryLimits,
    oom_container: str,
    leaking_release: Fault,
    limit_raise: LimitRaise,
    autoscaler: Autoscaler,
    traffic: Traffic,
    database: Database,
    replica_timeline: ReplicaSampler,
) -> None:
    oom = drill_profile.oom
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, drill_profile.thresholds)
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    watch = OomWatch(shop_memory, clock=drill.clock)
    watch.sample()  # kills already on record belong to before the drill
    traffic.start()
    drill.expect_steady_state(serving & users_ok & no_oom_kill_since(watch, watch.started_s))

    budget_s = drill.rto_target_s()  # past the target the verdict is FAIL: stop waiting
    try:
        with drill.step(f"Roll out the leaking release ({oom.leak_kb} kB kept per request)"):
            drill.inject(leaking_release)
            _say_limits(drill, oom)
        with drill.step("Detect: kubectl describe pod shows Last State OOMKilled, exit code 137"):
            _detect(drill, shop, watch)
        with drill.step("Trend: kubectl top pods, repeatedly"):
            _trend(drill, shop, shop_memory, watch, oom)
        with drill.step(f"Raise the limit: {oom.limit} -> {oom.raised_limit}, live on every pod"):
            live_at_s = _raise_limit(drill, (shop_memory, watch, oom_container), limit_raise, oom)
        with drill.step("Spread the load: the HPA is in place (kubectl apply -f autoscaler)"):
            _spread(drill, autoscaler)
        with drill.step("Verify: no OOM kill over the stability window, users served"):
            fixed = _no_kill_after_fix(watch, live_at_s, oom)
            live = limit_live(watch, oom_container, oom.raised_limit_bytes)
            try:
                drill.await_recovery(
                    serving & users_ok & live & fixed, timeout_s=_remaining_s(drill, budget_s)
                )
            finally:
                _record_kills_after_fix(drill, watch, live_at_s, oom)
        with drill.step(f"Verify: memory under {oom.memory_warning:.0%} of the new limit"):
            _judge_memory(drill, shop_memory, watch, oom)
    finally:
        traffic.record_user_side(drill)

    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    verified = traffic.verify_writes(drill, database, existing=existing)
    drill.assert_rpo(verified.report, lossless=True)  # an OOM kill touches no committed row


def _remaining_s(drill: Drill, budget_s: float) -> float:
    """What is left of the RTO budget, plus a second so a timeout lands past the target."""
    spent_s = drill.clock.now() - (drill.fault_at_s or drill.clock.now())
    return max(1.0, budget_s - spent_s + 1.0)


def _say_limits(drill: Drill, oom: OomSettings) -> None:
    if oom.limit != RUNBOOK_LIMIT:
        drill.say(
            f"the leaking release runs under {oom.limit} ([oom] limit), standing for the "
            f"runbook's {RUNBOOK_LIMIT} [000], so the leak crosses it within seconds; the raise "
            f"goes to {oom.raised_limit}"
        )


def _detect(drill: Drill, shop: Workload, watch: OomWatch) -> None:
    """Runbook step 1: a pod's last state is OOMKilled with exit code 137; its limits."""
    waited = drill.wait_until(
        oom_killed(watch), timeout_s=drill.spec.phases.detect_s, poll_s=0.2, raise_on_timeout=False
    )
    if not waited.met:
        drill.record_not_detected(waited.last.detail)
        raise CouldNotVerify(
            f"no container was OOM-killed within {drill.spec.phases.detect_s:g} s of the leaking "
            f"release ({waited.last.detail}); raise [oom] leak_kb_per_request or lower [oom] "
            "limit, or check that the load reaches the pods"
        )
    drill.record_detected(waited.last.detail)
    first = watch.kills_since(watch.started_s)[0]
    _record_first_kill(drill, first)
    _record_describe(drill, shop, watch, first)


def _record_first_kill(drill: Drill, kill: OomKill) -> None:
    """Time to the first OOM kill, from the run's finishedAt the kubelet wrote (runbook Measure)."""
    fault_at_s = drill.fault_at_s or drill.clock.now()
    fault_wall = drill.clock.wall() - timedelta(seconds=drill.clock.now() - fault_at_s)
    value = seconds_after(kill.finished_at, fault_wall) if kill.finished_at else None
    drill.record_figure(
        "time to first OOM kill",
        value,
        "s",
        detail=f"{kill.pod}/{kill.container} finished at {kill.finished_at or '?'} under "
        f"{format_bytes(kill.limit_bytes)}",
        no_target="part of the outage; TTD is when the drill saw it, TTR is judged",
    )


def _record_describe(drill: Drill, shop: Workload, watch: OomWatch, kill: OomKill) -> None:
    """`kubectl describe pod`: last state, restarts, Limits, and the node's OOM event."""
    pod = next(c for c in watch.latest if (c.pod, c.container) == (kill.pod, kill.container))
    killing = [e for e in shop.events() if e.reason == "OOMKilling"]
    attach_json("kubectl describe pod: the OOM-killed container", asdict(pod))
    attach_json("kubectl get events: OOMKilling", [vars(e) for e in killing])
    drill.record_figure(
        "memory limit of the OOM-killed pod",
        None if pod.limit_bytes is None else pod.limit_bytes / _MIB,
        "MiB",
        detail=f"{pod.describe()}; runbook {RUNBOOK_LIMIT} [000]",
        no_target=_EVIDENCE,
    )
    drill.record_figure(
        "OOMKilling events (the node's report)",
        float(sum(e.count for e in killing)),
        "events",
        detail="; ".join(sorted({e.message for e in killing})[:3]) or "none posted yet",
        no_target=_EVIDENCE,
    )


def _trend(
    drill: Drill, shop: Workload, memory: MemoryLimits, watch: OomWatch, oom: OomSettings
) -> None:
    """Runbook step 2: read `kubectl top pods` for `[oom] top_for` and record the trend.

    metrics-server shows a container once it has scraped it twice in one run, so pods killed
    faster than that never appear: the node's own figures (the RSS its OOMKilling events state)
    are recorded beside, and the report says which one it has.
    """
    readings: list[tuple[float, MemoryReading]] = []
    problem: list[str] = []

    def look() -> Observation:
        watch.sample()  # keep counting the kills while the trend is read
        try:
            seen = memory.top()
        except MetricsUnavailable as exc:
            problem[:] = [str(exc)]
            return Observation(ok=False, detail=f"metrics API: {exc}")
        readings.extend((drill.clock.now(), r) for r in seen)
        return Observation(ok=False, detail=f"{len(readings)} readings")

    drill.wait_until(look, timeout_s=oom.top_for_s, poll_s=1.0, raise_on_timeout=False)
    series = [(at, r.memory_bytes / _MIB) for at, r in readings]
    drill.record_samples("memory in use, kubectl top (MiB)", series)
    _record_trend(drill, [r for _, r in readings], oom, problem[0] if problem else "")
    _record_node_rss(drill, shop, oom)


def _record_trend(
    drill: Drill, readings: list[MemoryReading], oom: OomSettings, problem: str
) -> None:
    if not readings:
        why = problem or (
            "metrics-server had no reading of the shop's pods: it shows a container after two "
            "scrapes of one run, and the leak killed them sooner"
        )
        drill.say(f"kubectl top gave nothing ({why}); the node's OOMKilling events stand in")
        drill.record_figure(
            "highest memory by kubectl top", None, "MiB", detail=why, no_target=_TREND
        )
        return
    fullest = max(readings, key=lambda r: r.memory_bytes)
    stamps = len({r.timestamp for r in readings})
    drill.record_figure(
        "highest memory by kubectl top",
        fullest.memory_bytes / _MIB,
        "MiB",
        detail=f"{fullest.pod} at {fullest.memory_bytes / oom.limit_bytes:.0%} of {oom.limit}; "
        f"{len(readings)} readings at {stamps} scrape times",
        no_target=_TREND,
    )
    growth = growth_per_s(readings)
    drill.record_figure(
        "memory growth by kubectl top",
        max(growth.values()) / _MIB if growth else None,
        "MiB/s",
        detail=", ".join(f"{k}: {v / _MIB:.1f}" for k, v in sorted(growth.items()))
        or "no pod was read at two scrape times in one run (killed before the next scrape)",
        no_target=_TREND,
    )


def _record_node_rss(drill: Drill, shop: Workload, oom: OomSettings) -> None:
    """The node's figure at each kill: the RSS its OOMKilling events say it measured."""
    messages = {e.message for e in shop.events() if e.reason == "OOMKilling"}
    rss = [b for b in (rss_at_kill(m) for m in messages) if b is not None]
    drill.record_figure(
        "memory at the OOM kills (the node's events)",
        max(rss) / _MIB if rss else None,
        "MiB",
        detail=f"highest of {len(rss)} OOMKilling events stating the RSS, limit {oom.limit}"
        if rss
        else f"{len(messages)} OOMKilling events, none stating the RSS measured",
        no_target=_TREND,
    )


def _raise_limit(
    drill: Drill,
    target: tuple[MemoryLimits, OomWatch, str],
    raise_: LimitRaise,
    oom: OomSettings,
) -> float:
    """Runbook step 3: raise limits.memory; wait until every live pod runs under it.

    Returns the drill time the raised limit was live. The pods are the evidence, not the API's
    answer: a patch that changed nothing is reported, then shown by the pods.
    """
    memory, watch, container = target
    raised = raise_.apply(memory)
    issued_s = drill.clock.now()
    drill.record_since_fault(
        "limit raise issued",
        detail=raised.summary(),
        no_target="when the raise was sent; the time it is live on every pod follows",
    )
    if raised.missing:
        drill.say(f"the raise changed less than asked: {raised.summary()}; the pods will tell")
    budget_s = drill.rto_target_s()
    waited = drill.wait_until(
        limit_live(watch, container, oom.raised_limit_bytes),
        timeout_s=_remaining_s(drill, budget_s),
        poll_s=0.5,
        raise_on_timeout=False,
    )
    if not waited.met:
        _raise_never_landed(drill, (memory, watch, issued_s), raised.summary(), waited.last.detail)
    drill.record_since_fault(
        "raised limit live on every pod",
        detail=f"{waited.last.detail}, {waited.elapsed_s:.1f} s after the raise was sent",
        no_target="an intermediate milestone (runbook Measure): TTR is judged against the RTO",
    )
    return drill.clock.now()


def _raise_never_landed(
    drill: Drill, seen: tuple[MemoryLimits, OomWatch, float], sent: str, pods: str
) -> None:
    memory, watch, issued_s = seen
    kills = watch.kills_since(issued_s)
    template = ", ".join(f"{c}: {format_bytes(b)}" for c, b in memory.template_limits().items())
    drill.record_figure(
        "OOM kills after the raise", float(len(kills)), "kills", target=0.0, detail=pods
    )
    raise AssertionError(
        f"the raised limit never reached the pods: {pods}; OOM kills continued: {len(kills)} "
        f"since the raise was sent; the raise sent {sent}; the pod template's limits: {template}"
    )


def _spread(drill: Drill, autoscaler: Autoscaler) -> None:
    """Runbook step 4: the HPA (`kubectl apply -f k8s/autoscaler.yaml` [002]) is in place."""
    status = autoscaler.status()
    if status is None:
        raise CouldNotVerify(
            f"no HPA {autoscaler.name} spreads the load (runbook step 4: apply the autoscaler "
            "[002], or `kubectl scale --replicas=5` [003]); this drill scales nothing by hand"
        )
    drill.record_figure(
        "HPA replica range (spreads the load)",
        float(status.max_replicas),
        "replicas",
        detail=status.describe(),
        no_target="runbook step 4 [002]: the HPA keeps 3-10 pods; seen in place, not judged",
    )


def _no_kill_after_fix(watch: OomWatch, since_s: float, oom: OomSettings) -> Condition:
    """No pod under the raised limit OOM-killed since it was live; a kill FAILs at once.

    Waiting on would only wait out the RTO: the runbook's assert is that the window after the
    fix has no OOMKilled at all, so one kill decides it.
    """
    fixed = no_oom_kill_since(watch, since_s, limit_bytes=oom.raised_limit_bytes)

    def check() -> Observation:
        seen = fixed()
        if not seen.ok:
            raise AssertionError(
                f"OOM kills continued after the raised limit {oom.raised_limit} was live on "
                f"every pod: {seen.detail}; the leak outgrows the raise within the window"
            )
        return seen

    return Condition(fixed.name, check)


def _record_kills_after_fix(
    drill: Drill, watch: OomWatch, since_s: float, oom: OomSettings
) -> None:
    kills = [k for k in watch.kills_since(since_s) if k.limit_bytes == oom.raised_limit_bytes]
    window_s = drill.spec.waits.stability_window_s
    drill.record_figure(
        "OOM kills after the fix",
        float(len(kills)),
        "kills",
        target=0.0,
        detail=f"under {oom.raised_limit}, from the raised limit live on every pod through "
        f"the {window_s:g} s window",
    )


def _judge_memory(drill: Drill, memory: MemoryLimits, watch: OomWatch, oom: OomSettings) -> None:
    """Memory of the pods at the raised limit, by `kubectl top`, under `[oom] memory_warning`.

    Waits (up to three times `[oom] top_for`) for a reading of every live pod: metrics-server
    shows a container after two scrapes of one run, and the pods under the raised limit were
    all created after the raise, so any reading of theirs is new.
    """
    latest: dict[str, MemoryReading] = {}

    def read() -> Observation:
        live = {c.pod for c in watch.sample() if not c.deleting}
        try:
            latest.update({r.pod: r for r in memory.top() if r.pod in live})
        except MetricsUnavailable as exc:
            return Observation(ok=False, detail=f"metrics API: {exc}")
        missing = sorted(live - set(latest))
        return Observation(ok=not missing, detail=f"no reading yet of {missing}")

    waited = drill.wait_until(read, timeout_s=3 * oom.top_for_s, poll_s=1.0, raise_on_timeout=False)
    if not latest:
        raise CouldNotVerify(
            f"kubectl top gave no reading of the pods after the fix ({waited.last.detail}), so "
            f"memory against {oom.memory_warning:.0%} of {oom.raised_limit} [003] is unchecked"
        )
    _record_memory(drill, list(latest.values()), oom, waited.last.detail if not waited.met else "")


def _record_memory(
    drill: Drill, readings: list[MemoryReading], oom: OomSettings, unread: str
) -> None:
    fullest = max(readings, key=lambda r: r.memory_bytes)
    ratio = fullest.memory_bytes / oom.raised_limit_bytes
    growth = growth_per_s(readings)
    drill.record_figure(
        "memory of the fullest pod after the fix",
        ratio,
        "ratio of the limit",
        target=oom.memory_warning,
        detail=f"{fullest.pod}: {format_bytes(fullest.memory_bytes)} of {oom.raised_limit} "
        f"([003] warns above {oom.memory_warning:.0%}); {len(readings)} pods read"
        + (f"; {unread}" if unread else ""),
    )
    _record_leak_left(drill, fullest, oom, max(growth.values()) if growth else None)
    if ratio > oom.memory_warning:
        raise AssertionError(
            f"memory after the fix is {ratio:.0%} of the raised limit {oom.raised_limit} "
            f"({fullest.pod}), over the {oom.memory_warning:.0%} warning line [003]"
        )


def _record_leak_left(
    drill: Drill, fullest: MemoryReading, oom: OomSettings, growth: float | None
) -> None:
    """The runbook's caveat: the leak, left in place, OOMs again later; when, at this rate."""
    left = oom.raised_limit_bytes - fullest.memory_bytes
    drill.record_figure(
        "leak left in place: time to the raised limit",
        None if not growth else left / growth,
        "s",
        detail=f"{format_bytes(left)} left on {fullest.pod}"
        + (f", growing {growth / _MIB:.1f} MiB/s" if growth else ", growth not read twice")
        + "; the fault's rollback takes the leak out when the drill ends",
        no_target="a leak left in place OOMs again later (RUNBOOKS.md §3.3): reported, not judged",
    )
