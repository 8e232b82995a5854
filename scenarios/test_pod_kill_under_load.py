"""RUNBOOKS.md §3.2 `pod-kill-under-load`: pods lost under traffic, up to a complete outage.

Variants (fixtures/pod_kill.py): `half` (the default; half the pods killed), `all` (every pod
killed), `zero` (the Deployment scaled to 0 by mistake), `deployment-deleted` (the Deployment
deleted). Runbook steps drilled, in order: assess (what is gone), serving path (the Service's
endpoints), capacity back where nothing restores it by itself (`kubectl scale` to the recorded
count; `kubectl apply -f` of the shop's manifest, then `kubectl rollout status --timeout=15m`
[004]), verify (replicas Ready, health and error ratio). Declaring in Slack and paging (step 1)
and escalating after 5 min (step 7) need people: not part of the gate.

Objectives come from the profile's [services.shop]: RTO 15 min, RPO 5 min [002]. With capacity
left (`half`) users should barely notice: the failed-request ratio from the fault to the end
must stay inside the profile's `[thresholds] error_budget` (§3.2 `fraction`). The other variants
are full outages: users fail until capacity is back, and §3.2 judges them by the RTO and by no
failures over the stability window. Killing stateless pods touches no data, so any acknowledged
write lost is a FAIL whatever span it covers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drills import (
    Database,
    Drill,
    Profile,
    RecoveryStepMissing,
    Workload,
    endpoints_listed,
    replicas_ready,
)
from drills.core.conditions import Condition
from drills.core.profile import Endpoints
from drills.probes.rollout import rollout_complete
from drills.targets.adapters.kube import KubeWorkload
from drills.targets.adapters.kube_deployment import load_manifest
from drills.targets.adapters.kube_rollout import KubeRollout
from drills.targets.ports.workload import DeploymentObject
from fixtures.kube import ReplicaSampler, cluster_bound
from fixtures.load import Traffic, judge_error_budget
from fixtures.pod_kill import (
    HALF,
    SHOP_MANIFEST,
    VARIANTS,
    deployment_of,
    replicas_at,
    scale_back,
    tolerant,
    variant_fault,
    zero_defect,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # where `kubectl apply -f` runs from
ROLLOUT_TIMEOUT_S = 15 * 60.0  # `kubectl rollout status ... --timeout=15m` [004]
_NO_TARGET_FIRST = "the first replica serving again; TTR (the whole count, users served) is judged"


@pytest.mark.gate
@pytest.mark.drill(
    id="pod-kill-under-load",
    runbook="RUNBOOKS.md §3.2",
    service="shop",
    severity="P1",
    variants=VARIANTS,
)
def test_pod_kill_under_load(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    drill_variant: str,
    shop: Workload,
    traffic: Traffic,
    database: Database,
    replica_timeline: ReplicaSampler,
    drill_endpoints: Endpoints,
) -> None:
    if drill_variant == HALF:
        _half(drill, drill_profile, shop, traffic, database, drill_endpoints)
        return
    limits = drill_profile.thresholds
    recorded = shop.desired_replicas()  # the count the runbook's recovery must bring back
    serving = tolerant(replicas_at(shop, recorded) & endpoints_listed(shop), "deployment/shop")
    users_ok = traffic.users_ok(drill, limits)
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    deployment = deployment_of(shop) if drill_variant == "deployment-deleted" else None
    traffic.start()
    drill.expect_steady_state(serving & users_ok)

    fault = variant_fault(drill_variant, shop, drill_profile, deployment)
    with drill.step(_FAULT_STEP[drill_variant]):
        drill.inject(cluster_bound(fault, shop, drill_endpoints))  # replayable after a crash
    _assess(drill, drill_variant, shop, deployment, serving)
    if drill_variant == "all":
        with drill.step("Serving path: endpoints list pod IPs again"):
            _serving_back(drill, shop, serving)
    else:
        _no_endpoints(drill, shop)
        if drill_variant == "zero":
            _scale_back(drill, shop, recorded)
        else:
            assert deployment is not None
            _reapply(drill, shop, deployment, PROJECT_ROOT / SHOP_MANIFEST)
    with drill.step("Verify: replicas back, health and error ratio hold"):
        if drill_variant != "all":
            _serving_back(drill, shop, serving)
        drill.await_recovery(serving & users_ok, timeout_s=_budget_left_s(drill))

    traffic.record_user_side(drill)  # a full outage: failures count in TTM/TTR, not a budget
    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    verified = traffic.verify_writes(drill, database, existing=existing)
    drill.assert_rpo(verified.report, lossless=True)  # killing pods must lose no committed write


_FAULT_STEP = {
    "all": "Kill every pod",
    "zero": "Scale to zero (the emergency shutdown, by mistake)",
    "deployment-deleted": "Delete the Deployment",
}


def _half(  # noqa: PLR0913 - the default variant's ports, as the drill had them before variants
    drill: Drill,
    drill_profile: Profile,
    shop: Workload,
    traffic: Traffic,
    database: Database,
    drill_endpoints: Endpoints,
) -> None:
    """`half`: capacity is left, so users should barely notice (the error budget is judged)."""
    limits = drill_profile.thresholds
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, limits)
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    traffic.start()
    drill.expect_steady_state(serving & users_ok)

    budget_s = drill.rto_target_s()  # past the target the verdict is FAIL: stop waiting
    with drill.step("Kill half the pods"):
        fault = variant_fault(HALF, shop, drill_profile, None)
        drill.inject(cluster_bound(fault, shop, drill_endpoints))  # replayable after a crash
    with drill.step("Assess: a replica is missing"):
        seen = drill.wait_until(
            lambda: not serving().ok,
            timeout_s=30,
            poll_s=0.05,
            raise_on_timeout=False,
        )
        if seen.met:
            drill.record_detected("a replica missing from the Deployment or its endpoints")
        else:  # replaced faster than a poll: say so rather than invent a figure
            drill.record_not_detected("the loss was never observed: replaced within one poll")
    with drill.step("Serving path: endpoints list pod IPs again"):
        drill.await_recovery(
            serving, timeout_s=budget_s, stable_for_s=0, milestone="serving path back"
        )
    with drill.step("Verify: health and error ratio hold"):
        drill.await_recovery(serving & users_ok, timeout_s=budget_s)

    users = traffic.record_user_side(drill, error_budget=limits.error_budget)
    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    verified = traffic.verify_writes(drill, database, existing=existing)
    drill.assert_rpo(verified.report, lossless=True)  # killing pods must lose no committed write
    judge_error_budget(users, limits.error_budget)


def _budget_left_s(drill: Drill) -> float:
    """Seconds left of the RTO target, plus one so a timeout lands past it (then: FAIL)."""
    spent_s = drill.clock.now() - (drill.fault_at_s or drill.clock.now())
    return max(1.0, drill.rto_target_s() - spent_s + 1.0)


_ASSESS = {
    "all": "Assess: every replica is gone",
    "zero": "Assess: the Deployment asks for 0 replicas",
    "deployment-deleted": "Assess: the Deployment is gone",
}


def _assess(
    drill: Drill,
    variant: str,
    shop: Workload,
    deployment: DeploymentObject | None,
    serving: Condition,
) -> None:
    """Runbook step 2 (`kubectl get pods`, `get deployment`, events): see what is gone (TTD)."""

    def lost() -> bool:
        if variant == "zero":
            return shop.desired_replicas() == 0
        if deployment is not None:
            return deployment.manifest() is None
        return shop.ready_endpoints() == 0

    with drill.step(_ASSESS[variant]):
        seen = drill.wait_until(lost, timeout_s=30, poll_s=0.05, raise_on_timeout=False)
        if seen.met:
            drill.record_detected(_ASSESS[variant].removeprefix("Assess: "))
        else:  # back before a poll saw it gone: say so rather than invent a figure
            drill.record_not_detected(f"never observed: {serving().detail}")


def _no_endpoints(drill: Drill, shop: Workload) -> None:
    """Runbook step 3 (`kubectl get endpoints`): no address left for users (evidence only)."""
    empty = tolerant(endpoints_listed(shop), "endpoints").negated("no endpoint listed")
    with drill.step("Serving path: no endpoint listed"):
        gone = drill.wait_until(empty, timeout_s=30, poll_s=0.1, raise_on_timeout=False)
        drill.record_since_fault(
            "serving path empty",
            detail=gone.last.detail if gone.met else "an endpoint stayed listed for 30 s",
            no_target="when the last pod left the Service; TTR is judged",
        )


def _scale_back(drill: Drill, shop: Workload, recorded: int) -> None:
    """Runbook step 5: `kubectl scale` to the replica count recorded before the fault.

    Its effect is checked at once: an HPA might lift a wrong count to its minimum later and
    hide the mistake, so a recovery that asked for anything but the recorded count FAILs here.
    """
    with drill.step(f"Capacity back: kubectl scale deployment/{shop.name} --replicas={recorded}"):
        asked = scale_back(shop, recorded, zero_defect(os.environ))
        desired = shop.desired_replicas()
        drill.record_figure(
            "replicas asked for",
            float(desired),
            "replicas",
            target=float(recorded),
            detail=f"spec.replicas after the scale; {recorded} recorded before the fault "
            "(the runbook's 15 is [004]'s own count)",
        )
        if asked is None or desired == 0:
            raise RecoveryStepMissing(
                f"deployment/{shop.name} still asks for {desired} replicas: the recovery never "
                f"scaled it back (kubectl scale deployment/{shop.name} --replicas={recorded})"
            )
        assert desired == recorded, (
            f"the recovery scaled deployment/{shop.name} to {desired} replicas, not the "
            f"{recorded} recorded before the fault"
        )


def _reapply(drill: Drill, shop: Workload, deployment: DeploymentObject, path: Path) -> None:
    """Runbook step 5 for a deleted Deployment: apply the manifest, then `rollout status`."""
    with drill.step(f"Capacity back: kubectl apply -f {SHOP_MANIFEST}"):
        manifest = load_manifest(path)
        deployment.restore(manifest)
        drill.record_since_fault(
            "Deployment re-created",
            detail=f"from {path}, {manifest['spec'].get('replicas')} replicas",
            no_target="when the manifest was applied; the rollout below carries [004]'s timeout",
        )
    if not isinstance(shop, KubeWorkload):
        pytest.skip("the deployment-deleted variant reads the rollout through the API")
    with drill.step(f"Capacity back: kubectl rollout status deployment/{shop.name} --timeout=15m"):
        started_s = drill.clock.now()
        done = drill.wait_until(
            rollout_complete(KubeRollout.of(shop)),
            timeout_s=min(ROLLOUT_TIMEOUT_S, _budget_left_s(drill)),
            raise_on_timeout=False,
        )
        drill.record_figure(
            "rollout status",
            drill.clock.now() - started_s if done.met else None,
            "s",
            target=ROLLOUT_TIMEOUT_S,
            detail=done.last.detail,
        )
        assert done.met, f"the re-created Deployment's rollout did not complete: {done.last.detail}"


def _serving_back(drill: Drill, shop: Workload, serving: Condition) -> None:
    """The first replica Ready (a figure), then every recorded replica Ready and listed."""
    first = tolerant(endpoints_listed(shop), "endpoints")
    seen = drill.wait_until(first, timeout_s=_budget_left_s(drill), raise_on_timeout=False)
    if seen.met:
        drill.record_since_fault("first replica ready", no_target=_NO_TARGET_FIRST)
    drill.await_recovery(
        serving, timeout_s=_budget_left_s(drill), stable_for_s=0, milestone="serving path back"
    )
