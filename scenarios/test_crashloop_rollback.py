"""RUNBOOKS.md §3.1 `crashloop-rollback`: a bad release crash-loops; `rollout undo` restores it.

Runbook steps drilled, in order: detect (`kubectl get pods` shows CrashLoopBackOff), gather
evidence (`kubectl logs --previous`, the pod's events), sort the cause (a recent deploy),
mitigate (`kubectl rollout undo`), recover (`kubectl rollout status` until done), then verify
that users are served and restarts stay flat for the stability window.

With RollingUpdate and maxUnavailable 0 the old ReplicaSet keeps serving while the new pod
crash-loops, so users may notice nothing; the drill still times detection, the rollback and the
rollout. Objectives: the profile's [services.shop], RTO 15 min and RPO 5 min [002]; a bad
release touches no data, so any acknowledged write lost is a FAIL whatever span it covers (the
service may have routed writes to the wrong pods or database).
"""

from __future__ import annotations

import pytest

from drills import (
    BadRelease,
    Database,
    Drill,
    Profile,
    RecoveryStepMissing,
    Workload,
    bad_release_image,
    endpoints_listed,
    replicas_ready,
)
from drills.core.conditions import Observation
from drills.core.errors import CouldNotVerify, DrillError
from drills.core.profile import Endpoints
from drills.faults.pods import BAD_TAG
from drills.probes.rollout import (
    POD_CRASH_LOOPING_RESTARTS,
    POD_CRASH_LOOPING_WINDOW_S,
    RestartWatch,
    crash_looping,
    rollout_complete,
)
from drills.reporting.allure_steps import attach_json
from drills.targets.adapters.kube import KubeWorkload
from drills.targets.adapters.kube_rollout import KubeRollout
from drills.targets.ports.rollout import PodTemplate, Rollout
from drills.targets.ports.workload import PodState
from fixtures.kube import ReplicaSampler, cluster_bound
from fixtures.load import Traffic

DETECT_TIMEOUT_S = 120.0  # generous: a crash and one back-off take seconds, the machine is shared
PREVIOUS_LOG_TIMEOUT_S = 30.0  # a kubelet's first back-off is 10 s; the sandbox's is 0.5 s


@pytest.fixture
def shop_rollout(shop: Workload) -> Rollout:
    """The rollout view of the shop Deployment, through the same client as `shop`."""
    if not isinstance(shop, KubeWorkload):
        pytest.skip("the crashloop-rollback drill reads the rollout through the Kubernetes API")
    return KubeRollout.of(shop)


_EVIDENCE = "evidence gathered for the cause (runbook steps 2-3), not judged"
_ALERT_RULE = (
    "the [002] alert rule, for reference: the drill detects on CrashLoopBackOff (TTD), earlier"
)
_REVISION = "which revision undo restored; the whole-template comparison judges it"


@pytest.mark.gate
@pytest.mark.drill(
    id="crashloop-rollback", runbook="RUNBOOKS.md §3.1", service="shop", severity="P1"
)
def test_crashloop_rollback(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    drill_endpoints: Endpoints,
    shop: Workload,
    shop_rollout: Rollout,
    traffic: Traffic,
    database: Database,
    replica_timeline: ReplicaSampler,
) -> None:
    limits = drill_profile.thresholds
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, limits)
    good_image = shop.container_image()
    good_template = shop_rollout.pod_template()  # the last good revision, whole
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    traffic.start()
    drill.expect_steady_state(serving & users_ok & rollout_complete(shop_rollout, good_image))

    budget_s = drill.rto_target_s()  # past the target the verdict is FAIL: stop waiting
    restarts = RestartWatch(shop, clock=drill.clock)
    restarts.sample()
    try:
        with drill.step("Roll out the bad release"):
            bad_image = drill_profile.targets.bad_release_image or bad_release_image(good_image)
            release = BadRelease(shop, image=bad_image)
            drill.inject(cluster_bound(release, shop, drill_endpoints))
        _detect(drill, shop, restarts)
        _gather_evidence(drill, shop, shop_rollout, restarts)
        with drill.step("Mitigate: kubectl rollout undo"):
            _roll_back(drill, shop, shop_rollout, (good_image, good_template))
        with drill.step("Recover: kubectl rollout status until done"):
            drill.await_recovery(
                rollout_complete(shop_rollout, good_image),
                timeout_s=_remaining_s(drill, budget_s),
                stable_for_s=0,
                milestone="rollout complete",
            )
        with drill.step("Verify: users served, restarts flat for the stability window"):
            drill.await_recovery(
                serving & users_ok & rollout_complete(shop_rollout, good_image) & restarts.flat(),
                timeout_s=_remaining_s(drill, budget_s),
            )
            _record_flat_restarts(drill, restarts)
    finally:
        traffic.record_user_side(drill)

    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    verified = traffic.verify_writes(drill, database, existing=existing)
    drill.assert_rpo(verified.report, lossless=True)  # RUNBOOKS.md §3.1: expect zero lost writes


def _remaining_s(drill: Drill, budget_s: float) -> float:
    """What is left of the RTO budget, plus a second so a timeout lands past the target."""
    spent_s = drill.clock.now() - (drill.fault_at_s or drill.clock.now())
    return max(1.0, budget_s - spent_s + 1.0)


def _detect(drill: Drill, shop: Workload, restarts: RestartWatch) -> None:
    """Runbook step 1: `kubectl get pods` until a pod waits in CrashLoopBackOff."""
    looping = crash_looping(shop)

    def seen() -> Observation:
        restarts.alert()  # keep sampling: when would PodCrashLooping have paged?
        return looping()

    with drill.step("Detect: a pod waits in CrashLoopBackOff"):
        waited = drill.wait_until(
            seen,
            timeout_s=DETECT_TIMEOUT_S,
            poll_s=0.1,
            raise_on_timeout=False,
        )
        if not waited.met:
            drill.record_not_detected(waited.last.detail)
            raise CouldNotVerify(
                f"the bad release never reached CrashLoopBackOff within {DETECT_TIMEOUT_S:g} s "
                f"({waited.last.detail}); check that the image's tag `{BAD_TAG}` makes the "
                "app exit at start-up and that the Deployment is not paused"
            )
        drill.record_detected("a pod of the new release waits in CrashLoopBackOff")


def _previous_run(drill: Drill, shop: Workload, rollout: Rollout) -> tuple[PodState | None, str]:
    """The most-restarted crash-looping pod and its previous run's log.

    A kubelet keeps a previous run only once the container restarted: right after the first
    crash the run that failed is still the current one. So wait, as the on-call engineer would,
    up to one back-off for `logs --previous` to show something.
    """
    pods: list[PodState] = []
    logs: list[str] = [""]

    def previous() -> Observation:
        stuck = [p for p in shop.pods() if p.waiting_reason == "CrashLoopBackOff"]
        if stuck:
            pods[:] = [max(stuck, key=lambda p: p.restarts)]
        logs[0] = rollout.previous_log(pods[0].name, tail_lines=50) if pods else ""
        return Observation(ok=bool(logs[0].strip()), detail=pods[0].name if pods else "no pod")

    drill.wait_until(
        previous,
        timeout_s=PREVIOUS_LOG_TIMEOUT_S,
        poll_s=0.2,
        raise_on_timeout=False,
    )
    return (pods[0] if pods else None), logs[0]


def _gather_evidence(
    drill: Drill, shop: Workload, rollout: Rollout, restarts: RestartWatch
) -> None:
    """Runbook steps 2-3: previous logs and events of a crashing pod; sort the cause."""
    with drill.step("Gather evidence: logs --previous and events"):
        pod, log = _previous_run(drill, shop, rollout)
        events = [e for e in shop.events() if pod is not None and e.object_name == pod.name]
        attach_json("kubectl logs --previous", {"pod": pod.name if pod else None, "log": log})
        attach_json("kubectl describe pod: events", [vars(e) for e in events])
        cause = pod.last_terminated_reason if pod else ""
        last_line = log.strip().splitlines()[-1] if log.strip() else "no previous log"
        drill.record_figure(
            "restarts of the crashing pod",
            float(pod.restarts) if pod else None,
            "restarts",
            detail=f"{pod.name if pod else 'no pod'}; last exit: {cause or '?'}; log: {last_line}",
            no_target=_EVIDENCE,
        )
        warnings = [e for e in events if e.type == "Warning"]
        drill.record_figure(
            "warning events of the crashing pod",
            float(sum(e.count for e in warnings)),
            "events",
            detail="; ".join(sorted({f"{e.reason}: {e.message}" for e in warnings})),
            no_target=_EVIDENCE,
        )
        if cause == "OOMKilled":  # runbook step 3: memory is §3.3's drill, not a rollback
            raise CouldNotVerify("the new pods are OOMKilled, not a bad release: see §3.3")
        _record_alert(drill, restarts)


def _record_alert(drill: Drill, restarts: RestartWatch) -> None:
    """When `PodCrashLooping` (> 5 restarts in 10 min [002]) would have fired, if it did."""
    reading = restarts.alert()
    name = "PodCrashLooping would fire"
    if restarts.first_fired_s is None or drill.fault_at_s is None:
        drill.record_figure(
            name,
            None,
            "s",
            detail=f"did not fire before the rollback: {reading.detail}",
            no_target=_ALERT_RULE,
        )
        return
    drill.record_figure(
        name,
        restarts.first_fired_s - drill.fault_at_s,
        "s",
        detail=f"rule > {POD_CRASH_LOOPING_RESTARTS} restarts in "
        f"{POD_CRASH_LOOPING_WINDOW_S:g} s held: {reading.detail}",
        no_target=_ALERT_RULE,
    )


def _roll_back(
    drill: Drill, shop: Workload, rollout: Rollout, last_good: tuple[str, PodTemplate]
) -> None:
    """Runbook step 4: `kubectl rollout undo`; the whole template must be the last good one.

    Comparing only the image would pass an undo that left the bad release's other changes
    (environment, command, probes, resources) in place: RUNBOOKS.md §3.1 asks for the pod
    template of the last good revision.
    """
    try:
        revision = shop.rollout_undo()
    except DrillError as exc:
        drill.record_figure(
            "restored revision", None, "revision", detail=str(exc), no_target=_REVISION
        )
        raise RecoveryStepMissing(
            f"kubectl rollout undo could not roll deployment/{shop.name} back: {exc}. "
            "The last good ReplicaSet is gone (is revisionHistoryLimit 0?); keep history so "
            "the runbook's rollback can work"
        ) from exc
    drill.record_since_fault(
        "rollback issued",
        no_target="when `rollout undo` was sent; TTM is when users stopped failing",
    )
    good_image, good = last_good
    now = rollout.pod_template()
    differing = good.differences(now)
    same = f"{len(differing)} template fields differ" if differing else "whole template as before"
    drill.record_figure(
        "restored revision",
        float(revision),
        "revision",
        detail=f"template image {shop.container_image()}; last good {good_image}; {same}",
        no_target=_REVISION,
    )
    if differing:
        raise AssertionError(
            f"rollout undo restored revision {revision}, but its pod template is not the last "
            f"good one: {good.describe_differences(now)}"
        )


def _record_flat_restarts(drill: Drill, restarts: RestartWatch) -> None:
    window_s = drill.spec.waits.stability_window_s
    grown = restarts.increase(drill.clock.now() - window_s)
    drill.record_figure(
        "restarts over the stability window",
        float(sum(grown.values())),
        "restarts",
        target=0.0,
        detail=f"{len(grown)} pods watched over {window_s:g} s",
    )
