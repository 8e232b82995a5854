"""RUNBOOKS.md §3.18 `ddos-rate-limit`: a flood from a few client addresses, mitigated.

Under the legitimate Locust users (each naming a client address of its own), an attacker's
Locust floods the shop from three fixed addresses (X-Forwarded-For on loopback), reading orders
that do not exist as fast as it is answered. Its requests stream into counters of their own,
so every users' figure is the legitimate users' alone. The harm is measured, not assumed: the
drill goes on only once legitimate users are over the profile's thresholds (p95 or errors);
a flood that never hurts them is COULD_NOT_VERIFY.

Recovery in the runbook's order, each a timed step:
1. `aws wafv2 associate-web-acl`: a web ACL created and associated with the load balancer. On
   the sandbox moto keeps that state and filters nothing, so the step is reported as state only
   (its effect COULD_NOT_VERIFY); staging has the real effect.
2. RATE_LIMIT (`[ddos] rate_limit`) JSON-patched into the container named `shop`, not blindly
   into container 0 (the patch tests the name at the index it writes), then `rollout status`.
   The attacker must then be throttled: `[ddos] throttled_share` of its requests refused (429)
   within `[ddos] throttled_within` of the rollout, else FAIL naming the limit that was set.
3. Client addresses ranked by request rate from the shop's own logs (its `clients over ...`
   lines, every pod); offenders are `[ddos] offender_factor` times the median client.
4. The offenders blocked in the web ACL as /32s (state only on moto). The seed's command opens
   443 to 0.0.0.0/0 in a security group instead (RUNBOOKS.md §5.2): not run, and no security
   group is touched. A legitimate client on the blocklist FAILs the drill.

Verify: legitimate users back under `[thresholds]` error_ratio and p95_latency for the
stability window with the attacker still throttled (TTR, against the shop's RTO), no
acknowledged write lost. Every rule and setting added is taken away by its rollback (recorded
before it acts): the block rule and its IP set, RATE_LIMIT, the web ACL and its association;
the attacker stops before RATE_LIMIT comes off.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest

from drills import (
    CouldNotVerify,
    Database,
    Drill,
    Profile,
    Workload,
    endpoints_listed,
    replicas_ready,
    rollout_complete,
)
from drills.core.conditions import Condition
from drills.core.ddos import ClientRate, client_rates, judge_blocklist, offenders
from drills.core.errors import DrillError
from drills.core.profile import Endpoints
from drills.faults.pods import BadSetting
from drills.load.shapes import Steady
from drills.recovery.ddos import SAFE_BLOCK_FORM, AssociateWebAcl, BlockOffenders, RateLimitRelease
from drills.targets.ports.container_env import ContainerEnv
from drills.targets.ports.diagnostics import PodDiagnostics
from drills.targets.ports.rollout import Rollout
from drills.targets.ports.waf import WebFirewall
from fixtures.ddos import Attack, Flood, rate_limit_setting
from fixtures.kube import cluster_bound
from fixtures.load import Traffic

CPU_SETTING = "CPU_WORK_MS"
CONTAINER = "shop"  # the shop's container, by name (fixtures/shop/k8s/deployment.yaml)
DETECT_TIMEOUT_S = 45.0
ALERT_FOR_S = 2.0  # users over the thresholds this long before it counts as the alert
ROLLOUT_TIMEOUT_S = 300.0  # a rollout under the flood is slow: old pods still serve it
RANK_TIMEOUT_S = 15.0
VERIFY_WITHIN_S = 60.0  # users back within the thresholds this long after the throttle, or FAIL
_STATE_ONLY = "state only on moto: it stores the web ACL and filters no request"
_EVIDENCE = "evidence of the runbook's diagnosis, not judged"


@pytest.mark.drill(id="ddos-rate-limit", runbook="RUNBOOKS.md §3.18", service="shop", severity="P1")
def test_ddos_rate_limit(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    drill_endpoints: Endpoints,
    shop: Workload,
    traffic: Traffic,
    attack: Attack,
    database: Database,
    web_firewall: WebFirewall,
    container_env: ContainerEnv,
    pod_diagnostics: PodDiagnostics,
    shop_rollout: Rollout,
) -> None:
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, drill_profile.thresholds)
    existing = set(database.orders_present())
    _prepare_costs(drill, drill_profile, drill_endpoints, shop, shop_rollout)
    think = drill_profile.ddos.users_think
    if think is not None:  # people think between clicks; the limit counts per client
        traffic.load.wait_s = (0.5 * think, 1.5 * think)
    traffic.start(_users_shape(drill_profile))
    drill.expect_steady_state(serving & users_ok)
    _record_users(drill, traffic, drill_profile, "before the flood", since_s=None)
    try:
        _flood_and_detect(drill, traffic, attack, drill_profile)
        acl = _associate_web_acl(drill, web_firewall, drill_profile)
        limit = _RateLimitPorts(shop, container_env, shop_rollout, drill_endpoints)
        _rate_limit(drill, drill_profile, limit, attack, traffic)
        ranked = _rank_clients(drill, shop, pod_diagnostics, drill_profile)
        _block_offenders(drill, web_firewall, acl, ranked, attack, drill_profile)
        with drill.step("Verify: legitimate users within the thresholds, the attacker throttled"):
            throttled = attack.throttled(drill_profile.ddos.throttled_share)
            _users_back(drill, users_ok, throttled)
            drill.await_recovery(serving & users_ok & throttled, timeout_s=_budget_left_s(drill))
            _record_users(drill, traffic, drill_profile, "after recovery", since_s=None)
    finally:
        traffic.record_user_side(drill)
    drill.assert_rto()
    attack.stop()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    verified = traffic.verify_writes(drill, database, existing=existing)
    drill.assert_rpo(verified.report, lossless=True)  # the flood only reads


def _prepare_costs(
    drill: Drill, profile: Profile, endpoints: Endpoints, shop: Workload, rollout: Rollout
) -> None:
    """`[ddos] cpu_work_ms`: the shop's CPU per request for this drill, put back afterwards.

    Set before the steady state (not a fault: no RTO clock), so that a request the shop serves
    costs it clearly more than one it refuses, as a real page costs more than a 429.
    """
    work = profile.ddos.cpu_work_ms
    if work is None or shop.container_env(CPU_SETTING) == f"{work:g}":
        return
    with drill.step(f"Prepare: the shop spends {work:g} ms of CPU per request ({CPU_SETTING})"):
        drill.prepare(cluster_bound(BadSetting(shop, CPU_SETTING, f"{work:g}"), shop, endpoints))
        drill.wait_until(rollout_complete(rollout), timeout_s=ROLLOUT_TIMEOUT_S, poll_s=0.5)


def _users_shape(profile: Profile) -> Steady | None:
    """`[ddos] users` legitimate users, or None for the profile's `[load]` shape."""
    users = profile.ddos.users
    return None if users is None else Steady(users, float(max(users, profile.load.spawn_rate)))


def _budget_left_s(drill: Drill) -> float:
    """Seconds left of the RTO target: past it the verdict is FAIL, so stop waiting."""
    elapsed = drill.clock.now() - (drill.fault_at_s or drill.clock.now())
    return max(1.0, drill.rto_target_s() - elapsed + 1.0)


def _record_users(
    drill: Drill, traffic: Traffic, profile: Profile, when: str, *, since_s: float | None
) -> None:
    """The legitimate users' error ratio and p95 over a window ending now, beside the bounds.

    `since_s` None: the last stability window. Only the users' stream is read: the attacker's
    requests never reach it.
    """
    now = drill.clock.now()
    start = now - drill.spec.waits.stability_window_s if since_s is None else since_s
    window = traffic.recorder.window(start, now)
    bounds = profile.thresholds
    drill.record_figure(
        f"legitimate error ratio {when}",
        window.error_ratio,
        "ratio",
        target=bounds.error_ratio,
        detail=f"{window.failures} of {window.count} legitimate requests failed over "
        f"{now - start:.1f} s",
    )
    drill.record_figure(
        f"legitimate p95 latency {when}",
        window.p95_ms,
        "ms",
        target=bounds.p95_latency_s * 1000,
        detail=f"p50 {window.p50_ms} ms, p99 {window.p99_ms} ms over {window.count} requests",
    )


def _flood_and_detect(drill: Drill, traffic: Traffic, attack: Attack, profile: Profile) -> None:
    """Inject the flood; TTD once legitimate users are over the thresholds for ALERT_FOR_S."""
    if not drill.spec.dry_run:  # a dry run prints the plan and starts no attacker
        attack.start()
    flood = f"{attack.users} attacker users from {', '.join(attack.identities)}"
    with drill.step(f"Flood the shop: {flood}"):
        drill.inject(Flood(attack))
    hurt = traffic.users_ok(drill, profile.thresholds).negated(
        "legitimate users over the thresholds"
    )
    with drill.step("Detect: legitimate users see p95 or errors over the thresholds"):
        seen = drill.wait_until(
            hurt,
            timeout_s=DETECT_TIMEOUT_S,
            poll_s=0.1,
            stable_for_s=ALERT_FOR_S,
            raise_on_timeout=False,
        )
        if not seen.met:
            drill.record_not_detected(seen.last.detail)
            raise CouldNotVerify(
                f"the flood ({attack.describe()}) never put legitimate users over the "
                f"thresholds within {DETECT_TIMEOUT_S:g} s ({seen.last.detail}), so its "
                "mitigation cannot be judged; raise [ddos] attacker_users"
            )
        drill.record_detected(seen.last.detail)
        alert_s = drill.clock.now() - ALERT_FOR_S - 2.0  # the windows the alert held over
        _record_users(drill, traffic, profile, "during the flood", since_s=alert_s)
        _record_rates(drill, traffic, attack)


def _record_rates(drill: Drill, traffic: Traffic, attack: Attack) -> None:
    """Requests per second of each attacker address beside one legitimate client's."""
    start, now = drill.fault_at_s or drill.clock.now(), drill.clock.now()
    span = max(now - start, 1e-3)
    per_address = {a: t / span for a, (t, _) in sorted(attack.counts.window(start, now).items())}
    users = max(traffic.load.users(), 1)
    legit = traffic.recorder.window(start, now).count / span / users
    drill.record_figure(
        "attacker requests per address during the flood",
        min(per_address.values()) if per_address else None,
        "requests/s",
        detail="; ".join(f"{a} {r:.1f}/s" for a, r in per_address.items())
        + f"; one legitimate client {legit:.2f}/s ({users} users)",
        no_target="the flood's size (the least busy attacker address); the harm is judged",
    )


def _associate_web_acl(drill: Drill, waf: WebFirewall, profile: Profile) -> str:
    """Step 1: create and associate the web ACL; reported as state only on moto."""
    acl = f"drills-ddos-{uuid.uuid4().hex[:8]}"
    resource = profile.ddos.load_balancer_arn
    region = profile.targets.aws_region or ""
    with drill.step("Runbook step 1: aws wafv2 associate-web-acl (moto: state only)"):
        drill.prepare(AssociateWebAcl(waf, acl, resource, region))
        seen = waf.associated_acl(resource)
        assert seen == acl, f"step 1: {resource} carries web ACL {seen}, not {acl}"
        drill.record_figure(
            "web ACL associated with the load balancer",
            None,
            "state",
            detail=f"COULD_NOT_VERIFY (state only): {waf.endpoint} holds web ACL {acl} on "
            f"{resource}; moto enforces nothing, so whether it stops the flood is measured "
            "on staging, not here",
            no_target=_STATE_ONLY,
        )
    return acl


@dataclass(frozen=True)
class _RateLimitPorts:
    shop: Workload
    env: ContainerEnv
    rollout: Rollout
    endpoints: Endpoints


def _rate_limit(
    drill: Drill, profile: Profile, ports: _RateLimitPorts, attack: Attack, traffic: Traffic
) -> None:
    """Step 2: RATE_LIMIT in the container named `shop`, rollout, and the attacker throttled."""
    shop, env, rollout, endpoints = ports.shop, ports.env, ports.rollout, ports.endpoints
    value = rate_limit_setting(profile, os.environ)
    containers = env.containers()
    with drill.step(f"Runbook step 2: JSON-patch RATE_LIMIT={value} into container {CONTAINER}"):
        drill.say(
            f"runbook step 2 patches container {CONTAINER} found by name (index "
            f"{containers.index(CONTAINER) if CONTAINER in containers else '?'} of "
            f"{', '.join(containers)}), not container 0 as written; the JSON patch tests the "
            "name at that index"
        )
        release = RateLimitRelease(env, CONTAINER, value)
        drill.prepare(cluster_bound(release, shop, endpoints))
        drill.defer("stop the attacker before RATE_LIMIT comes off", attack.stop)
    with drill.step("Runbook step 2: kubectl rollout status deployment/shop"):
        drill.wait_until(rollout_complete(rollout), timeout_s=ROLLOUT_TIMEOUT_S, poll_s=0.5)
        drill.record_since_fault(
            "RATE_LIMIT live on every pod",
            no_target="an intermediate milestone: TTR is the recovery judged against the RTO",
            detail=f"RATE_LIMIT={value} in container {CONTAINER} on {shop.desired_replicas()} "
            f"replicas; patch {release.patch}",
        )
        _judge_throttled(drill, profile, attack, traffic, value)


def _judge_throttled(
    drill: Drill, profile: Profile, attack: Attack, traffic: Traffic, value: str
) -> None:
    """FAIL unless the limit refuses the attacker's `throttled_share` within the bound."""
    settings = profile.ddos
    throttled = attack.throttled(settings.throttled_share)
    waited = drill.wait_until(
        throttled,
        timeout_s=settings.throttled_within_s,
        poll_s=0.2,
        raise_on_timeout=False,
        description="the attacker throttled",
    )
    drill.record_figure(
        "attacker requests refused once the limit is live",
        attack.last_share,
        "ratio",
        target=settings.throttled_share,
        detail=waited.last.detail,
    )
    if waited.met:
        return
    users = traffic.users_ok(drill, profile.thresholds)()
    raise AssertionError(
        f"the rate limit did not throttle the attacker: RATE_LIMIT={value} in container "
        f"{CONTAINER} is live on every pod, yet {waited.last.detail} after "
        f"{settings.throttled_within_s:g} s ([ddos] throttled_within); legitimate users: "
        f"{_detail(users)}. A limit no attacker reaches leaves the flood in place"
    )


def _detail(observed: object) -> str:
    return str(getattr(observed, "detail", observed))


def _rank_clients(
    drill: Drill, shop: Workload, diagnostics: PodDiagnostics, profile: Profile
) -> list[ClientRate]:
    """Step 3: client addresses by request rate from every pod's `clients over` log line."""
    with drill.step("Runbook step 3: rank client addresses found in the shop's logs"):
        ranked: list[ClientRate] = []

        def read() -> bool:
            ranked[:] = client_rates(_logs(shop, diagnostics))
            return len(ranked) >= 3  # a median needs a few clients

        waited = drill.wait_until(
            read, timeout_s=RANK_TIMEOUT_S, poll_s=0.5, raise_on_timeout=False
        )
        if not waited.met:
            raise CouldNotVerify(
                f"the shop's logs named {len(ranked)} client address(es) within "
                f"{RANK_TIMEOUT_S:g} s, too few to rank (is CLIENT_LOG_S 0?)"
            )
        found = offenders(ranked, factor=profile.ddos.offender_factor)
        drill.record_figure(
            "client addresses ranked",
            float(len(ranked)),
            "addresses",
            detail="busiest: " + "; ".join(r.describe() for r in ranked[:6]),
            no_target=_EVIDENCE,
        )
        drill.record_figure(
            "offenders found",
            float(len(found)),
            "addresses",
            detail=f"at least {profile.ddos.offender_factor:g} x the median client's rate: "
            + ("; ".join(r.describe() for r in found) or "none"),
            no_target="what step 4 blocks; the blocklist is judged against the attacker",
        )
        assert found, (
            "step 3 found no client far above the others in the shop's logs: "
            + "; ".join(r.describe() for r in ranked[:6])
        )
        return found


def _logs(shop: Workload, diagnostics: PodDiagnostics) -> list[str]:
    """The last lines of every Ready pod's log (a pod gone since listing is skipped)."""
    tails = []
    for pod in shop.pods():
        if not pod.ready:
            continue
        try:
            tails.append(diagnostics.log_tail(pod.name, tail_lines=10))
        except DrillError:
            continue  # deleted since it was listed (a rollout replaces pods)
    return tails


def _block_offenders(  # noqa: PLR0913 - step 4's inputs
    drill: Drill,
    waf: WebFirewall,
    acl: str,
    found: list[ClientRate],
    attack: Attack,
    profile: Profile,
) -> None:
    """Step 4 in its safe form; FAIL when a legitimate client is on the blocklist."""
    with drill.step("Runbook step 4: block the offenders in the WAF (not 443 to 0.0.0.0/0)"):
        drill.say(
            f"runbook step 4 runs in its safe form: {SAFE_BLOCK_FORM}; the seed's "
            "`authorize-security-group-ingress --cidr 0.0.0.0/0` is not run as written"
        )
        addresses = tuple(r.client for r in found)
        drill.prepare(BlockOffenders(waf, acl, addresses, profile.targets.aws_region or ""))
        blocked = waf.blocked(acl)
        judged = judge_blocklist(blocked, attack.identities)
        drill.record_figure(
            "legitimate clients on the blocklist",
            float(len(judged.legitimate_blocked)),
            "addresses",
            target=0.0,
            detail=f"blocklist {', '.join(blocked)} ({_STATE_ONLY}); {judged.describe()}",
        )
        drill.record_figure(
            "attacker addresses on the blocklist",
            float(len(attack.identities) - len(judged.attackers_missed)),
            "addresses",
            target=float(len(attack.identities)),
            detail=judged.describe(),
        )
        assert not judged.legitimate_blocked, (
            f"step 4 blocked legitimate clients: {', '.join(judged.legitimate_blocked)} "
            f"(blocklist {', '.join(blocked)}; attacker {', '.join(attack.identities)})"
        )
        assert not judged.attackers_missed, (
            f"step 4 left attacker addresses off the blocklist: "
            f"{', '.join(judged.attackers_missed)} (blocklist {', '.join(blocked)})"
        )


def _users_back(drill: Drill, users_ok: Condition, throttled: Condition) -> None:
    """FAIL when users stay over the thresholds although the attacker is throttled."""
    waited = drill.wait_until(
        users_ok & throttled,
        timeout_s=VERIFY_WITHIN_S,
        raise_on_timeout=False,
        description="legitimate users within the thresholds",
    )
    assert waited.met, (
        f"legitimate users are not back within the thresholds {VERIFY_WITHIN_S:g} s into the "
        f"verification: {waited.last.detail}"
    )
