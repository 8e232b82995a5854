"""RUNBOOKS.md §3.5 `db-pool-exhaustion`: connection slots used up; terminate idle backends.

Variant `idle-sessions` (the default): a leaker holds sessions with the service's own role, idle
and idle in transaction, until the server refuses more ("too many clients" [003], "connection
limit exceeded" [004]). Runbook steps drilled: size it (sessions by state against
max_connections), terminate idle backends by the runbook's rule (idle longer than 10 min,
scaled by the profile's `[pool]`), reset the pools only if users still fail, then verify:
refusals stop, connections end below max_connections with headroom, users are served for the
stability window. Objectives: the service's RTO (15 min [002] for the shop) and no acknowledged
write lost (RUNBOOKS.md §3.5): any lost write is a FAIL, whatever span it covers. The canary
ledger writes beside the users throughout over a connection it holds (the leak refuses new ones):
its longest gap is evidence, and a committed canary lost is a FAIL like a lost write. Any service
whose profile section names a database runs this variant (`--service NAME`).

Variant `app-leak` (the demo shop only): the leak is the shop's own, a release (its HOLD_CONNECTIONS
setting) whose pods check their pooled connections out and never give them back. Requests wait out
the pool timeout, readiness fails, every pod leaves the Service. The server still has free slots, so
the recovery differs: after sizing it (step 1) the drill sorts the cause to the release; ending the
idle sessions (step 2) would free server slots but not the pools that think they lent them, and the
pool reset of step 3 by `rollout restart` would start the same leaking release again.
The pools are reset by rolling the release back (`kubectl rollout undo`, §3.1 step 4 for a
recent deploy), which replaces every pod; then `rollout status` until done and the same
verification. A recovery that leaves the leaking release in place FAILs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pytest

from drills import (
    Database,
    Drill,
    PoolExhaustion,
    Profile,
    RecoveryStepMissing,
    Workload,
    connections_refused,
    endpoints_listed,
    format_duration,
    replicas_ready,
    sql_reachable,
    terminate_idle,
)
from drills.core.conditions import Condition
from drills.core.errors import CouldNotVerify, DrillError
from drills.core.profile import Endpoints, ServiceObjectives
from drills.faults.pods import BadSettings
from drills.probes.rollout import rollout_complete
from drills.recovery.reset_pools import reset_pools_if_users_fail
from drills.recovery.terminate_idle import IdleRule, TerminationResult
from drills.targets.adapters.kube import KubeWorkload
from drills.targets.adapters.kube_rollout import KubeRollout
from drills.targets.ports.data import ConnectionLimits
from drills.targets.ports.rollout import PodTemplate, Rollout
from fixtures.canary import Canary
from fixtures.kube import cluster_bound
from fixtures.load import Traffic
from fixtures.pool import (
    APP_LEAK,
    DEFECT_RESTART_ONLY,
    HOLD_AFTER_S,
    VARIANTS,
    app_leak_release,
    pool_defect,
    pool_drained,
    release_is,
    require_leaking_release,
    shop_slots,
)

APP_LEAK_DETECT_TIMEOUT_S = HOLD_AFTER_S + 120.0  # the rollout, then the leak, then a timeout


@pytest.mark.gate
@pytest.mark.drill(
    id="db-pool-exhaustion",
    runbook="RUNBOOKS.md §3.5",
    service="shop",
    severity="P1",
    variants=VARIANTS,
)
def test_db_pool_exhaustion(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    drill_variant: str,
    drill_endpoints: Endpoints,
    shop: Workload,
    traffic: Traffic,
    database: Database,
    pool_admin: Database,
    pool_leak: PoolExhaustion,
    idle_rule: IdleRule,
    canary: Canary,
    drill_service: ServiceObjectives | None,
) -> None:
    if drill_variant == APP_LEAK:
        require_leaking_release(drill_service)
        _app_leak(drill, drill_profile, drill_endpoints, shop, traffic, (database, pool_admin))
        return
    limits = drill_profile.thresholds
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, limits)
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    canary.start()  # its connection is open before the leak: a gap means commits stalled
    traffic.start()
    drill.expect_steady_state(serving & users_ok & sql_reachable(database))
    _rds_reserved_slots(drill, drill_profile)

    with drill.step("Exhaust the connection slots"):
        drill.inject(pool_leak)  # lands once a new connection of the service's role is refused
        injected_at = drill.fault_at_s or drill.clock.now()
        drill.record_figure(
            "time to saturation",
            (drill.fault_landed_at_s or drill.clock.now()) - injected_at,
            "s",
            detail=(
                f"{pool_leak.opened} sessions opened (capped by {pool_leak.scope}), then "
                f"{_server_says(pool_leak.refusal)}"
            ),
            no_target="part of the outage: the RTO clock runs from the start of the leak",
        )
    with drill.step("Detect: a new connection is refused"):
        _detect(drill, connections_refused(database))
    with drill.step("Size it: sessions by state against max_connections"):
        _size(drill, pool_admin)
    age = format_duration(idle_rule.effective_s)
    age += f", runbook {format_duration(idle_rule.older_than_s)}" if idle_rule.scale != 1 else ""
    with drill.step(f"Wait until the leak is as old as the idle rule ({age})"):
        _wait_for_rule_age(drill, idle_rule)
    with drill.step("Terminate idle backends by the runbook's rule"):
        _terminate(drill, pool_admin, idle_rule)

    drained = pool_drained(database, pool_admin, headroom=drill_profile.pool.headroom)
    with drill.step("Reset the pools only if users still fail"):
        _reset_pools_if_users_fail(drill, shop, drained & serving & users_ok, drill_profile)
    with drill.step("Verify: refusals stop and users stay healthy"):
        drill.await_recovery(drained & serving & users_ok, timeout_s=_budget_left_s(drill))

    _record_headroom(drill, shop_slots(database, pool_admin), drill_profile.pool.headroom)
    _record_user_side_figures(drill, traffic, shop.name, since_s=injected_at)
    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    canaries = canary.judge(database)  # beside the write ledger, which judges first
    verified = traffic.verify_writes(drill, database, existing=existing)
    drill.assert_rpo(verified.report, lossless=True)  # RUNBOOKS.md §3.5: no lost writes
    canary.require_kept(canaries, database.name)  # nor a committed canary


_SIZING = "sizing evidence of runbook step 1; the free slots after recovery are judged"
_USERS = "when users first felt the leak; TTM and TTR carry the targets"


def _budget_left_s(drill: Drill) -> float:
    """Seconds left of the RTO target: past it the verdict is FAIL, so stop waiting."""
    elapsed = drill.clock.now() - (drill.fault_at_s or drill.clock.now())
    return max(0.1, drill.rto_target_s() - elapsed)


def _detect(drill: Drill, refused: Condition) -> None:
    seen = drill.wait_until(refused, timeout_s=30, poll_s=0.05, raise_on_timeout=False)
    if seen.met:
        drill.record_detected(f"first refused connection: {_server_says(seen.last.detail)}")
    else:
        drill.record_not_detected("no new connection was refused")


def _server_says(refusal: str | None) -> str:
    """The server's own words from a libpq refusal (drops the host and port preamble)."""
    text = refusal or "no refusal recorded"
    return text[text.index("FATAL:") :] if "FATAL:" in text else text


def _rds_reserved_slots(drill: Drill, profile: Profile) -> None:
    """On RDS the master user is no superuser: the reserved slots are not its to use."""
    if not profile.database.rds:
        return
    drill.say(
        "RDS profile: the master user is not a superuser, so superuser_reserved_connections "
        "(kept for rdsadmin) are not its: once the leak fills the ordinary slots, the sizing "
        "and termination steps can be refused like users are. On a real RDS instance open the "
        "admin session before the fault (or cap the leak below max_connections); the sandbox's "
        "PostgreSQL still reserves its slots for the drill's superuser."
    )


def _size(drill: Drill, admin: Database) -> None:
    limits = admin.limits()
    sessions = admin.sessions()
    states = _count(session.state for session in sessions)
    owners = _count(session.application_name for session in sessions)
    drill.record_figure(
        "sessions in use",
        float(limits.in_use),
        "sessions",
        detail=(
            f"of max_connections {limits.max_connections}, {limits.superuser_reserved} reserved "
            f"for superusers; by application: {_listing(owners)}"
        ),
        no_target=_SIZING,
    )
    for state, count in sorted(states.items()):
        drill.record_figure(f"sessions {state}", float(count), "sessions", no_target=_SIZING)


def _count(names: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in names:
        counts[name or "n/a"] = counts.get(name or "n/a", 0) + 1
    return counts


def _listing(counts: dict[str, int]) -> str:
    return ", ".join(f"{name}={count}" for name, count in sorted(counts.items())) or "none"


def _wait_for_rule_age(drill: Drill, rule: IdleRule) -> None:
    """The operator arrives once the leak is as old as the rule asks (scaled on the sandbox).

    Every leaked session went idle before the fault landed (saturation), so once the rule's age
    has passed since then, each one the rule can match is old enough.
    """
    landed_at = drill.fault_landed_at_s or drill.clock.now()
    drill.wait_until(
        lambda: drill.clock.now() - landed_at >= rule.effective_s,
        timeout_s=rule.effective_s + 5.0,
        poll_s=min(0.2, rule.effective_s / 4),
        description=f"the leak to age {rule.effective_s:.1f} s",
    )


def _terminate(drill: Drill, admin: Database, rule: IdleRule) -> TerminationResult:
    result = terminate_idle(admin, rule, clock=drill.clock)
    by = _listing(result.terminated_by)
    drill.record_figure(
        "sessions terminated",
        float(len(result.terminated)),
        "sessions",
        detail=f"{result.summary()}; terminated: {by}",
        no_target="what the idle rule matched; only active sessions terminated is judged (0)",
    )
    killed = result.active_terminated
    drill.record_figure("active sessions terminated", float(len(killed)), "sessions", target=0)
    assert not killed, (
        f"the idle rule terminated {len(killed)} active session(s) (pids {list(killed)}): "
        f"only sessions matching {result.rule} may be ended; check the admin's terminate()"
    )
    return result


def _reset_pools_if_users_fail(
    drill: Drill, shop: Workload, users_served: Condition, profile: Profile
) -> None:
    """Runbook step 3: `rollout restart` the Deployment to reset its pools, if users need it.

    The shop's pool replaces a broken connection on its own, so users are expected back without
    a restart. If they are not served again within `[pool] reset_after` (and the RTO budget),
    the step restarts the shop, and the verification below judges what that brought.
    """
    within_s = min(profile.pool.reset_after_s, _budget_left_s(drill))
    reset = reset_pools_if_users_fail(drill, shop, users_served, within_s=within_s)
    restarts = 1.0 if reset.restarted else 0.0
    drill.record_figure(
        "rollout restarts",
        restarts,
        "restarts",
        detail=reset.summary(shop.name),
        no_target="the runbook's reset runs only when users still fail; either way is right",
    )


def _record_headroom(drill: Drill, limits: ConnectionLimits, headroom: int) -> None:
    """Free slots as the service's own role sees them (its role/database limit, else the server)."""
    drill.record_figure(
        "free connection slots",
        float(limits.free_slots),
        "slots",
        target=float(headroom),
        detail=f"at least {headroom} must stay free; {limits.describe()}",
    )


def _record_user_side_figures(
    drill: Drill, traffic: Traffic, service: str, *, since_s: float
) -> None:
    fault_at = drill.fault_at_s or since_s
    outage = traffic.recorder.outage(since_s=since_s)
    if outage is None:
        drill.record_figure(
            "first failed user request",
            None,
            "s",
            detail=f"no user request failed: {service} kept the connections its pools held",
            no_target=_USERS,
        )
    else:
        drill.record_figure(
            "first failed user request",
            outage[0] - fault_at,
            "s",
            detail="seconds after injection began (the leak was filling until saturation)",
            no_target=_USERS,
        )
    traffic.record_user_side(drill, since_s=since_s)


# -- app-leak: the shop's own release leaks its pool ---------------------------------------------
def _app_leak(  # noqa: PLR0913 - the ports of the variant
    drill: Drill,
    profile: Profile,
    endpoints: Endpoints,
    shop: Workload,
    traffic: Traffic,
    databases: tuple[Database, Database],
) -> None:
    database, admin = databases
    if not isinstance(shop, KubeWorkload):
        pytest.skip("the app-leak variant reads the rollout through the Kubernetes API")
    rollout = KubeRollout.of(shop)
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, profile.thresholds)
    good = rollout.pod_template()  # the last good release, whole
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    traffic.start()
    drill.expect_steady_state(serving & users_ok & sql_reachable(database))

    release = app_leak_release(shop)
    with drill.step(f"Roll out the leaking release ({release.settings})"):
        drill.inject(cluster_bound(release, shop, endpoints))  # replayable after a crash
    with drill.step("Detect: requests wait out the pool timeout"):
        _detect_starved_users(drill, users_ok, replicas_ready(shop))
    with drill.step("Size it: sessions by state against max_connections"):
        _size(drill, admin)
    with drill.step("Sort the cause: the shop's own pools hold the sessions"):
        _sort_cause(drill, database, admin, (rollout, good))
    with drill.step("Reset the pools: kubectl rollout undo (the leaking release)"):
        _roll_back_release(drill, release, rollout, good)
    done = rollout_complete(rollout) & release_is(rollout, good)
    with drill.step("Recover: kubectl rollout status until done"):
        drill.await_recovery(
            done, timeout_s=_budget_left_s(drill), stable_for_s=0, milestone="rollout complete"
        )
    drained = pool_drained(database, admin, headroom=profile.pool.headroom)
    with drill.step("Verify: refusals stop and users stay healthy"):
        drill.await_recovery(drained & serving & users_ok & done, timeout_s=_budget_left_s(drill))

    _record_headroom(drill, shop_slots(database, admin), profile.pool.headroom)
    traffic.record_user_side(drill)
    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    verified = traffic.verify_writes(drill, database, existing=existing)
    drill.assert_rpo(verified.report, lossless=True)  # RUNBOOKS.md §3.5: no lost writes


def _detect_starved_users(drill: Drill, users_ok: Condition, ready: Condition) -> None:
    """TTD: users fail while pods fail readiness (their pools hand out no connection).

    Both, so a request lost to the rolling update itself (the old pods keep serving until the
    new ones are Ready) is not taken for the leak.
    """
    starved = users_ok.negated("users failing") & ready.negated("pods not ready")
    seen = drill.wait_until(
        starved, timeout_s=APP_LEAK_DETECT_TIMEOUT_S, poll_s=0.1, raise_on_timeout=False
    )
    if not seen.met:
        drill.record_not_detected(f"users never failed: {seen.last.detail}")
        raise CouldNotVerify(
            f"the leaking release never starved the shop's pools within "
            f"{APP_LEAK_DETECT_TIMEOUT_S:g} s ({seen.last.detail}); check that the shop honours "
            "HOLD_CONNECTIONS and HOLD_AFTER_S (fixtures/shop/app.py) and that the rollout ran"
        )
    drill.record_detected(f"users failing: {seen.last.detail}")


def _sort_cause(
    drill: Drill, app: Database, admin: Database, release: tuple[Rollout, PodTemplate]
) -> None:
    """The server takes new connections while users fail: the leak is the release's own.

    Terminating the idle sessions (runbook step 2) is skipped on purpose, and the report says
    why: the shop's pools lent those connections out and never get them back, so ending the
    sessions frees server slots, not the pools.
    """
    rollout, good = release
    accepted, answer = app.probe(timeout_s=3.0)
    limits = shop_slots(app, admin, app_answers=accepted)
    drill.record_figure(
        "free connection slots during the leak",
        float(limits.free_slots),
        "slots",
        detail=f"{limits.describe()}; a new connection of the shop's role: {answer}",
        no_target="sizing evidence: the server is not the bottleneck of an app leak",
    )
    if not accepted:
        raise CouldNotVerify(
            f"the server refuses the shop's role ({answer}): that is the idle-sessions failure, "
            "not a leak in the release, so the app-leak recovery cannot be judged"
        )
    changed = good.describe_differences(rollout.pod_template()) or "nothing"
    drill.record_figure(
        "changes of the recent release",
        float(len(good.differences(rollout.pod_template()))),
        "fields",
        detail=f"pod template against the last good release: {changed}",
        no_target="the evidence that sorts the cause to the recent deploy",
    )
    drill.say(
        "app-leak: the server has free slots, so the shop's own pools hold the connections; "
        "terminating idle backends (step 2) would free server slots, not the pools, and a "
        "rollout restart (step 3) would start the same leaking release: rolling it back"
    )


def _roll_back_release(
    drill: Drill, release: BadSettings, rollout: Rollout, good: PodTemplate
) -> None:
    """`kubectl rollout undo`: every pod replaced by the last good release, its pool fresh.

    Judged at once: a reset that leaves the leaking settings in place looks healthy for a while
    (fresh pools), until the new pods leak again.
    """
    shop = release.workload
    if pool_defect(os.environ) == DEFECT_RESTART_ONLY:
        shop.rollout_restart()  # the defect: §3.5 step 3 as written, the release left in place
        what = f"kubectl rollout restart deployment/{shop.name}"
    else:
        try:
            revision = shop.rollout_undo()
        except DrillError as exc:
            raise RecoveryStepMissing(
                f"kubectl rollout undo could not roll deployment/{shop.name} back: {exc}; keep "
                "revision history so a leaking release can be rolled back"
            ) from exc
        what = f"kubectl rollout undo deployment/{shop.name} (to revision {revision})"
    drill.record_since_fault("pools reset", detail=what, no_target=_RESET)
    still = [f"{k}={v}" for k, v in release.values.items() if shop.container_env(k) == v]
    assert not still, (
        f"the pools were reset ({what}) but the leaking release is still in place: "
        f"{' '.join(still)} still set on deployment/{shop.name}'s pod template; its new pods "
        "leak again, so roll the release back (kubectl rollout undo)"
    )
    left = good.describe_differences(rollout.pod_template())
    assert not left, f"{what} did not restore the last good release whole: {left}"


_RESET = "when the pools were reset by replacing every pod; TTM and TTR carry the targets"
