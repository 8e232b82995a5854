"""RUNBOOKS.md §3.4 `db-connection-failure`: the application cannot reach its database.

Variants (fixtures/db_connection.py):

- `db-down` (the default): under load, the sandbox's PostgreSQL is stopped with `pg_ctl stop -m
  immediate` (a crash, no shutdown checkpoint). TTD is the first failed SQL probe. Then the
  runbook's steps in its order: is the database up (`pg_ctl status`; on RDS
  `describe-db-instances`), a `SELECT 1` with the URL the pods carry (the Secret's), the
  credentials (the Secret against the server's address), the fix (start PostgreSQL on the same
  data and port, the RDS "reboot": crash recovery runs, its log lines are evidence), and
  `kubectl rollout restart` only if the pods do not come back by themselves: the service's pool
  drops broken connections and reconnects, and /readyz asks it for a working one, so pods
  usually return on their own. Judged: the service's RTO (15 min [002]) to users served for the
  stability window, the database's RTO (1 h [002]) to `SELECT 1` answering again, and the write
  ledger: crash recovery must keep every acknowledged order (RPO 15 min [002], and lossless,
  since PostgreSQL with synchronous commit acknowledges only what its WAL holds).
- `bad-secret`: the Secret's URL names a host that never resolves, then `rollout restart`. The
  new pods fail (the shop waits for its database before it listens, so they fail their probes
  and crash-loop) while the old ones keep serving (maxUnavailable 0): that is the detection.
  The same steps name the cause (the Secret's host is not the server's); the fix writes the
  right host into the Secret and restarts. Users must stay inside the error budget.
- `netpol`: a NetworkPolicy denying the service's pods egress to 5432. Nothing enforces
  NetworkPolicy in the sandbox (its pod network is a bridge with no packet filter), so when
  users stay served it ends COULD_NOT_VERIFY saying so, as `ingress-unreachable --variant
  netpol` does; the policy is deleted alone, never with `--all` (RUNBOOKS.md §5.2).

No variant touches data, so any acknowledged write missing at the end is a FAIL naming it. Any
service whose profile section names a database and whose Deployment reads DATABASE_URL from a
Secret runs all three (`--service NAME`): the Secret is found in its pod template.
"""

from __future__ import annotations

import pytest

from drills import (
    CouldNotVerify,
    Database,
    Drill,
    Profile,
    RpoBreached,
    Workload,
    connections_refused,
    endpoints_listed,
    replicas_ready,
    sql_reachable,
)
from drills.core.conditions import Condition, Observation
from drills.core.objectives import ObjectiveKind
from drills.core.profile import Endpoints
from drills.faults.database import host_of, start_again, with_host
from drills.targets.adapters.postgres import PostgresDatabase
from drills.targets.ports.workload import PodState
from fixtures.canary import Canary
from fixtures.db_connection import (
    BAD_SECRET,
    DURABILITY,
    NETPOL,
    VARIANTS,
    WRONG_HOST,
    DatabaseTier,
    crash_recovery_lines,
    db_down_defect,
    dsn_differences,
)
from fixtures.ingress import routing_of
from fixtures.kube import cluster_bound
from fixtures.load import Traffic, judge_error_budget

DETECT_WITHIN_S = 60.0  # a stopped server is refused at once; a new pod's readiness in seconds
SELF_HEAL_S = 60.0  # how long the pods get to come back by themselves before the restart
NETPOL_WATCH_S = 30.0  # as ingress-unreachable's netpol: long enough for any enforcement
WAIT_CAP_S = 300.0  # each wait is bounded; the RTO verdicts still use the profile's targets
_EVIDENCE = "evidence of the runbook step; the RTOs and the write ledger judge the drill"


@pytest.mark.drill(
    id="db-connection-failure",
    runbook="RUNBOOKS.md §3.4",
    service="shop",
    severity="P1",  # DatabaseConnectionFailed is P1 in [002]; HIGH in [000]
    variants=VARIANTS,
)
def test_db_connection_failure(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    drill_endpoints: Endpoints,
    drill_variant: str,
    shop: Workload,
    traffic: Traffic,
    database: Database,
    database_tier: DatabaseTier,
    canary: Canary,
) -> None:
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, drill_profile.thresholds)
    reachable = sql_reachable(database)
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    tier = database_tier
    if drill_variant == NETPOL:
        _netpol(drill, shop, drill_endpoints, traffic, tier, serving & users_ok & reachable)
        return
    canary.start()  # the harness's own writes: their gap shows when the database took none
    durability = ""
    if drill_variant == BAD_SECRET:
        _bad_secret(drill, drill_profile, drill_endpoints, shop, traffic, tier, users_ok)
    else:
        durability = _db_down(drill, shop, traffic, tier, database, serving & users_ok)
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    canaries = canary.judge(database)  # recorded beside the write ledger, which judges first
    verified = traffic.verify_writes(drill, database, existing=existing)
    try:
        # db-down is the database's outage (RPO 15 min [002]); bad-secret the shop's
        service = None if drill_variant == BAD_SECRET else "database"
        drill.assert_rpo(verified.report, service, lossless=True)
    except RpoBreached as exc:
        report = verified.report
        named = ", ".join((report.missing + report.changed)[:10]) if report else ""
        raise RpoBreached(
            f"acknowledged orders are gone after the {drill_variant} recovery: {named}"
            + (f"; the server ran with {durability}" if durability else "")
            + f" ({exc})"
        ) from exc
    canary.require_kept(canaries, database.name)  # a committed canary lost is a FAIL too


# -- db-down -----------------------------------------------------------------------------------
def _db_down(  # noqa: PLR0913 - the ports this variant touches
    drill: Drill,
    shop: Workload,
    traffic: Traffic,
    tier: DatabaseTier,
    database: Database,
    users_served: Condition,
) -> str:
    """The db-down variant; returns the durability settings read before the fault."""
    reachable = sql_reachable(database)
    if db_down_defect():
        drill.prepare(tier.async_commit(drill.clock))
    durability = _note_durability(drill, tier)
    traffic.start()
    drill.expect_steady_state(users_served & reachable)
    stop = tier.stop()
    with drill.step("Stop PostgreSQL: pg_ctl stop -m immediate"):
        drill.inject(stop)
    with drill.step("Detect: the first failed SQL probe"):
        _detect_refused(drill, database)
    with drill.step("Database up? pg_ctl status (aws rds describe-db-instances on RDS)"):
        _database_up(drill, tier)
    with drill.step("Connect from a backend pod: psql $DATABASE_URL -c 'SELECT 1'"):
        _connect_as_pods(drill, tier)
    with drill.step(f"Credentials: kubectl get secret {tier.config.secret} -o yaml"):
        _credentials(drill, tier)
    with drill.step("Fix: start PostgreSQL (the RDS reboot); crash recovery runs"):
        offset = tier.log_size()
        start_again(tier.server, stop.port)
        _await_database(drill, reachable)
        _crash_recovery(drill, tier, offset)
    with drill.step(
        f"kubectl rollout restart deployment/{tier.deployment} if the pods do not recover"
    ):
        _restart_unless_recovered(drill, tier, users_served)
    with drill.step("Verify: SELECT 1 answers, pods Ready, users served"):
        drill.await_recovery(users_served & reachable, timeout_s=_left_s(drill))
    traffic.record_user_side(drill)  # the whole shop is down: failures count in TTM and TTR
    drill.assert_rto()
    return durability


def _note_durability(drill: Drill, tier: DatabaseTier) -> str:
    """What decides whether an acknowledged commit survives a crash, read before the fault."""
    shown = tier.settings.show(DURABILITY)
    text = ", ".join(f"{k}={v}" for k, v in shown.items())
    drill.record_figure(
        "server durability settings",
        None,
        "settings",
        detail=text,
        no_target="evidence: with synchronous_commit on, an acknowledged commit is in the WAL",
    )
    return text


def _detect_refused(drill: Drill, database: Database) -> None:
    """TTD: the first `SELECT 1` the server refuses (DatabaseConnectionFailed [002])."""
    seen = drill.wait_until(
        connections_refused(database),
        timeout_s=DETECT_WITHIN_S,
        poll_s=0.1,
        raise_on_timeout=False,
        description="a failed SQL probe",
    )
    if not seen.met:
        drill.record_not_detected(f"SELECT 1 still answered {DETECT_WITHIN_S:.0f} s after the stop")
        raise CouldNotVerify("the database still answered after pg_ctl stop: nothing to recover")
    drill.record_detected(f"SELECT 1 failed: {seen.last.detail}")


def _database_up(drill: Drill, tier: DatabaseTier) -> None:
    """Runbook step 1: whether the server runs at all."""
    status = tier.server.status()
    drill.record_figure(
        "database server running",
        1.0 if status == "running" else 0.0,
        "servers",
        detail=f"pg_ctl status: {status}. In the sandbox the RDS record on moto would say "
        "`available` whatever the local server does, so the local status is the answer",
        no_target=_EVIDENCE,
    )


def _connect_as_pods(drill: Drill, tier: DatabaseTier) -> bool:
    """Runbook step 2: `SELECT 1` with the URL the pods carry, from the harness.

    The sandbox's pods are processes without `kubectl exec`; the harness reaches the same
    address from the host, so the same URL answers or fails the same way.
    """
    url = tier.pods_url()
    if url is None:
        ok, said = False, f"{tier.config.where} holds no URL"
    else:
        ok, said = PostgresDatabase("the pods' URL", url).probe()
    drill.record_figure(
        "SELECT 1 with the pods' URL",
        1.0 if ok else 0.0,
        "answered",
        detail=f"{tier.shown(url)}: {said}",
        no_target=_EVIDENCE,
    )
    return ok


def _credentials(drill: Drill, tier: DatabaseTier) -> list[str]:
    """Runbook step 3: the Secret against the server's own address."""
    url = tier.pods_url() or ""
    differences = dsn_differences(url, tier.server_dsn)
    drill.record_figure(
        "Secret fields differing from the server",
        float(len(differences)),
        "fields",
        detail="; ".join(differences)
        or f"{tier.config.where} names the server's host, port, user and database",
        no_target=_EVIDENCE,
    )
    return differences


def _await_database(drill: Drill, reachable: Condition) -> None:
    """The server accepts `SELECT 1` again: the database's RTO (1 h [002]) is judged here."""
    waited = drill.wait_until(
        reachable,
        timeout_s=WAIT_CAP_S,
        poll_s=0.1,
        raise_on_timeout=False,
        description="PostgreSQL answering again",
    )
    objective = drill.spec.objective(ObjectiveKind.RTO, "database")
    target = objective.target_s if objective is not None else None
    figure = drill.record_since_fault(
        "database RTO (SELECT 1 answers again)",
        target_s=target,
        no_target="" if target is not None else "no [services.database] rto in the profile",
        detail=waited.last.detail,
    )
    if not waited.met:
        raise AssertionError(f"PostgreSQL did not answer after its start: {waited.last.detail}")
    if target is not None and figure.value is not None and figure.value > target:
        raise AssertionError(
            f"the database answered {figure.value:.1f} s after the stop, beyond its RTO"
        )


def _crash_recovery(drill: Drill, tier: DatabaseTier, offset: int) -> None:
    """What the server logged as it started: crash recovery, and how much WAL it replayed."""
    lines = crash_recovery_lines(tier.log_since(offset))
    drill.record_figure(
        "crash recovery ran",
        1.0 if any("redo" in line or "automatic recovery" in line for line in lines) else 0.0,
        "recoveries",
        detail="; ".join(lines) or "the server log says nothing of a recovery",
        no_target="evidence: the write ledger judges whether recovery kept the commits",
    )


def _restart_unless_recovered(drill: Drill, tier: DatabaseTier, served: Condition) -> None:
    """Runbook step 5: give the pods SELF_HEAL_S to come back; else `rollout restart`."""
    waited = drill.wait_until(
        served,
        timeout_s=SELF_HEAL_S,
        raise_on_timeout=False,
        description="the pods serving again by themselves",
    )
    if waited.met:
        drill.record_since_fault(
            "pods serving again without a restart",
            detail=f"the pool reconnected and /readyz passed: {waited.last.detail}",
            no_target="a milestone; TTR (users served for the window) is judged",
        )
        drill.say("The pods came back by themselves: no rollout restart was needed.")
        return
    stamp = tier.config.restart()
    drill.say(
        f"The pods did not serve within {SELF_HEAL_S:.0f} s of the database's return "
        f"({waited.last.detail}): kubectl rollout restart at {stamp}."
    )


def _left_s(drill: Drill) -> float:
    """What is left of the shop's RTO (at least a second), capped so no wait is unbounded."""
    spent_s = drill.clock.now() - (drill.fault_at_s or drill.clock.now())
    return min(WAIT_CAP_S, max(1.0, drill.rto_target_s() - spent_s + 1.0))


# -- bad-secret --------------------------------------------------------------------------------
def _bad_secret(  # noqa: PLR0913 - the ports this variant touches
    drill: Drill,
    profile: Profile,
    endpoints: Endpoints,
    shop: Workload,
    traffic: Traffic,
    tier: DatabaseTier,
    users_ok: Condition,
) -> None:
    serving = replicas_ready(shop) & endpoints_listed(shop)
    drill.say(
        "The fault is a wrong host: the sandbox's pg_hba.conf trusts the shop's role `app` from "
        "the pod network, so a wrong password would be accepted and prove nothing."
    )
    before = {pod.name for pod in shop.pods()}
    traffic.start()
    drill.expect_steady_state(serving & users_ok)
    with drill.step(f"Break the Secret: host {WRONG_HOST}, then kubectl rollout restart"):
        drill.inject(cluster_bound(tier.wrong_host(), shop, endpoints))
    with drill.step("Detect: the new pods fail their probes"):
        _detect_unready(drill, shop, before)
    with drill.step("Database up? pg_ctl status (aws rds describe-db-instances on RDS)"):
        _database_up(drill, tier)
    with drill.step("Connect from a backend pod: psql $DATABASE_URL -c 'SELECT 1'"):
        _connect_as_pods(drill, tier)
    with drill.step(f"Credentials: kubectl get secret {tier.config.secret} -o yaml"):
        if not _credentials(drill, tier):
            raise AssertionError(f"{tier.config.where} matches the server, yet new pods fail")
        drill.record_since_fault(
            "cause named", detail="the Secret's host is not the server's", no_target=_NAMED
        )
    with drill.step("Fix: recreate the Secret with the right host"):
        _fix_secret(drill, tier)
    with drill.step(f"kubectl rollout restart deployment/{tier.deployment}"):
        tier.config.restart()
    with drill.step("Verify: rollout complete, pods Ready, users served"):
        drill.await_recovery(_rolled_out(tier) & serving & users_ok, timeout_s=_left_s(drill))
    users = traffic.record_user_side(drill, error_budget=profile.thresholds.error_budget)
    drill.assert_rto()
    judge_error_budget(users, profile.thresholds.error_budget)


_NAMED = "a milestone: the cause named; TTR (users served, rollout complete) is judged"


def _unready_new_pod(shop: Workload, before: set[str]) -> Observation:
    """A pod the restart created fails: a probe fails (its Unhealthy event) or it crash-loops.

    Both are the bad host's doing: the shop waits up to POOL_TIMEOUT_S for its database before
    it listens, so a pod that cannot reach it fails liveness too and is restarted.
    """
    fresh: list[PodState] = [p for p in shop.pods() if p.name not in before and not p.deleting]
    failing = {p.name for p in fresh if not p.ready}
    events = [e for e in shop.events() if e.reason == "Unhealthy" and e.object_name in failing]
    waiting = [f"{p.waiting_reason}, {p.restarts} restarts" for p in fresh if p.waiting_reason]
    if events or waiting:
        said = f"pod/{events[-1].object_name}: {events[-1].message}" if events else ""
        return Observation(ok=True, detail="; ".join(x for x in (said, *waiting[:1]) if x))
    said = f"new pods {sorted(p.name for p in fresh)}, not ready {sorted(failing)}"
    return Observation(ok=False, detail=said)


def _detect_unready(drill: Drill, shop: Workload, before: set[str]) -> None:
    seen = drill.wait_until(
        lambda: _unready_new_pod(shop, before),
        timeout_s=DETECT_WITHIN_S,
        poll_s=0.5,
        raise_on_timeout=False,
        description="a new pod failing readiness",
    )
    if not seen.met:
        drill.record_not_detected(f"no new pod failed: {seen.last.detail}")
        raise CouldNotVerify(
            f"the pods started with host {WRONG_HOST} did not fail within "
            f"{DETECT_WITHIN_S:.0f} s: {seen.last.detail}"
        )
    drill.record_detected(f"a new pod fails: {seen.last.detail}")


def _fix_secret(drill: Drill, tier: DatabaseTier) -> None:
    """Runbook step 4 in its safe form: the value replaced in place, not delete then create."""
    url = tier.pods_url()
    right = host_of(tier.server_dsn)
    if url is None or not right:
        raise AssertionError(f"{tier.config.where} or the server's DSN names no host")
    tier.config.set_database_url(with_host(url, right))
    drill.say(
        f"The host in {tier.config.where} is set back to {right} in place (kubectl create secret "
        "... --dry-run=client -o yaml | kubectl apply -f -) rather than the runbook's delete then "
        "create, which leaves a moment with no Secret for any pod that starts."
    )


def _rolled_out(tier: DatabaseTier) -> Condition:
    def check() -> Observation:
        state = tier.config.rollout()
        return Observation(state.complete, f"rollout: {state.describe()}")

    return Condition("rollout complete", check)


# -- netpol ------------------------------------------------------------------------------------
def _netpol(  # noqa: PLR0913 - the ports this variant touches
    drill: Drill,
    shop: Workload,
    endpoints: Endpoints,
    traffic: Traffic,
    tier: DatabaseTier,
    healthy: Condition,
) -> None:
    routing = routing_of(shop)
    traffic.start()
    drill.expect_steady_state(healthy)
    labels = routing.pod_labels_of(shop.name)
    with drill.step(f"Create a NetworkPolicy denying {shop.name}'s egress to 5432"):
        drill.inject(cluster_bound(tier.deny_egress(routing, labels), shop, endpoints))
    with drill.step("Detect: the pods lose their database"):
        seen = drill.wait_until(
            healthy.negated(f"{shop.name} or its database fails"),
            timeout_s=NETPOL_WATCH_S,
            raise_on_timeout=False,
            description="users or readiness failing",
        )
    if seen.met:  # an environment that enforces policies: not the sandbox, not drilled yet
        drill.record_detected(seen.last.detail)
        raise CouldNotVerify(
            "the NetworkPolicy was enforced here; the netpol recovery (find the policy, delete it "
            "alone, restart) is drilled only where policies are enforced, not written yet"
        )
    drill.record_not_detected(
        f"users and {shop.name}'s readiness were unaffected {NETPOL_WATCH_S:.0f} s after the policy"
    )
    drill.say(
        "The policy is deleted by name with the rollbacks, not with the runbook's `kubectl "
        "delete networkpolicy --all` (RUNBOOKS.md §5.2)."
    )
    raise CouldNotVerify(
        f"users were still served and {shop.name}'s pods stayed Ready {NETPOL_WATCH_S:.0f} s after "
        "a NetworkPolicy denied their egress to 5432: nothing enforces NetworkPolicy in this "
        "environment (the sandbox's pod network is a bridge and veth pairs, no iptables or nft "
        "packet filter), so the netpol fault and its recovery were not drilled; the policy was "
        "deleted alone, never with --all"
    )
