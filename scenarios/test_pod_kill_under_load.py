"""RUNBOOKS.md §3.2 `pod-kill-under-load`: pods killed under traffic; the ReplicaSet replaces them.

Runbook steps drilled: assess (what is gone), serving path (endpoints list pod IPs again),
verify (health and error ratio). Objectives come from the profile's [services.shop]:
RTO 15 min, RPO 5 min [002]. With capacity left, users should barely notice: the failed-request
ratio from the fault to the end must stay inside the profile's `[thresholds] error_budget`
(RUNBOOKS.md §3.2 `fraction`). Killing stateless pods touches no data, so any acknowledged
write lost is a FAIL whatever span it covers.
"""

from __future__ import annotations

import pytest

from drills import (
    Database,
    Drill,
    KillPods,
    Profile,
    Workload,
    endpoints_listed,
    replicas_ready,
)
from drills.core.profile import Endpoints
from fixtures.kube import ReplicaSampler, cluster_bound
from fixtures.load import Traffic, judge_error_budget


@pytest.mark.gate
@pytest.mark.drill(
    id="pod-kill-under-load", runbook="RUNBOOKS.md §3.2", service="shop", severity="P1"
)
def test_pod_kill_under_load(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    shop: Workload,
    traffic: Traffic,
    database: Database,
    replica_timeline: ReplicaSampler,
    drill_endpoints: Endpoints,
) -> None:
    limits = drill_profile.thresholds
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, limits)
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    traffic.start()
    drill.expect_steady_state(serving & users_ok)

    budget_s = drill.rto_target_s()  # past the target the verdict is FAIL: stop waiting
    with drill.step("Kill half the pods"):
        fault = KillPods(shop, fraction=0.5, blast_radius=drill_profile.blast_radius)
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
