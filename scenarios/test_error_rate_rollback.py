"""RUNBOOKS.md §3.11 `error-rate-rollback`: a live release fails part of the traffic.

Two variants, both under Locust traffic, both detected by `HighErrorRate` evaluated on what
users saw (the error ratio over the profile's `[error_rate]` window, above the critical line
for as long again, drills/core/error_rate.py):

- `bad-release` (the default): a release of the shop that stays Ready yet answers 500 to the
  profile's share of order requests (FAIL_SHARE, fixtures/shop/app.py) is rolled out as a new
  revision, `kubectl rollout status` included, as a deploy pipeline does.
- `dependency`: the dependency the shop calls, its PostgreSQL, turns read-only for new
  sessions (drills/faults/dependency.py): every pod stays Ready, reads are served, writes fail.

Recovery in the runbook's order, each a timed step: 1 scope (failed requests by endpoint and by
status, from the user-side stream), 2 logs (`kubectl logs | grep ERROR`), 3 dependencies
(`SELECT 1` and a write with the shop's own role; the dependency fixed when it is the cause),
4 recent deploy (`kubectl rollout undo` and `rollout status` when the template changed since
the fault), 5 `kubectl rollout restart` when users still fail, 6 confirm the error rate. Step 3's
sibling in [003] § Issue 4, terminating every active query older than 5 min, is never run
(RUNBOOKS.md §5.2); step 5's scale to 20 [004] is not either (the report says why).

Judged: the error ratio over the stability window after recovery under the profile's bound
([thresholds] error_ratio, 1% [003]); `bad-release`: the pod template back to the pre-fault
one, whole; the shop's RTO (15 min [002]); no acknowledged write lost (neither fault loses
data: a refused write was never acknowledged).
"""

from __future__ import annotations

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
from drills.core.error_rate import errors_by_endpoint
from drills.core.errors import CouldNotVerify, DrillError
from drills.core.profile import Endpoints
from drills.core.read_only import reset_read_only_sql
from drills.faults.dependency import ReadOnlyDatabase
from drills.load.traffic import error_ratio_below
from drills.probes.rollout import rollout_complete
from drills.targets.ports.diagnostics import PodDiagnostics
from drills.targets.ports.rollout import PodTemplate, Rollout
from fixtures.error_rate import (
    BAD_RELEASE,
    DEPENDENCY,
    VARIANTS,
    alert_firings,
    failing_release,
    high_error_rate,
    record_alert_firings,
)
from fixtures.kube import cluster_bound
from fixtures.load import Traffic
from fixtures.pool import release_is

ROLLOUT_TIMEOUT_S = 120.0  # 3 pods, one surge at a time, each Ready in seconds; a shared machine
DETECT_TIMEOUT_S = 60.0  # the alert needs one window over the line and the `for` after it
_EVIDENCE = "evidence of the runbook's diagnosis, not judged"


@pytest.mark.drill(
    id="error-rate-rollback",
    runbook="RUNBOOKS.md §3.11",
    service="shop",
    severity="P1",
    variants=VARIANTS,
)
def test_error_rate_rollback(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_variant: str,
    drill_profile: Profile,
    shop: Workload,
    error_rollout: Rollout,
    traffic: Traffic,
    database: Database,
    pod_diagnostics: PodDiagnostics,
    revision_history: str,
    request: pytest.FixtureRequest,
) -> None:
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, drill_profile.thresholds)
    good = error_rollout.pod_template()  # the release before the fault, whole
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    traffic.start()
    drill.expect_steady_state(serving & users_ok & rollout_complete(error_rollout))
    fault: ReadOnlyDatabase | None = None
    try:
        if drill_variant == DEPENDENCY:
            fault = request.getfixturevalue("read_only_dependency")
            _inject_dependency(drill, fault)
        else:
            endpoints: Endpoints = request.getfixturevalue("drill_endpoints")
            _inject_release(drill, drill_profile, shop, error_rollout, endpoints)
        _detect(drill, traffic, drill_profile)
        _scope(drill, traffic)
        _logs(drill, shop, pod_diagnostics)
        _dependencies(drill, database, fault)
        _recent_deploy(drill, (shop, error_rollout, good), traffic, drill_profile)
        _restart_if_failing(drill, shop, error_rollout, users_ok)
        recovered = _recovered(drill_variant, serving & users_ok, error_rollout, good)
        _confirm(drill, recovered, traffic, drill_profile.thresholds.error_ratio)
    finally:
        _record_figures(drill, drill_profile, traffic)
    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    verified = traffic.verify_writes(drill, database, existing=existing)
    drill.assert_rpo(verified.report, lossless=True)  # a refused write was never acknowledged


def _budget_left_s(drill: Drill) -> float:
    """Seconds left of the RTO target, plus one so a timeout lands past it (then FAIL)."""
    spent_s = drill.clock.now() - (drill.fault_at_s or drill.clock.now())
    return max(1.0, drill.rto_target_s() - spent_s + 1.0)


# -- the faults -----------------------------------------------------------------------------------
def _inject_release(
    drill: Drill, profile: Profile, shop: Workload, rollout: Rollout, endpoints: Endpoints
) -> None:
    share = profile.error_rate.fail_share
    release = failing_release(shop, share)
    before = shop.revision()
    with drill.step(f"Deploy the release failing {share:.0%} of orders; kubectl rollout status"):
        drill.inject(cluster_bound(release, shop, endpoints))
        drill.wait_until(
            rollout_complete(rollout),
            timeout_s=ROLLOUT_TIMEOUT_S,
            description="the failing release rolled out",
        )
        drill.record_since_fault(
            "release rolled out",
            detail=f"{release.settings}: revision {before} -> {shop.revision()}",
            no_target="the deploy, not the incident: every pod of the release is Ready",
        )


def _inject_dependency(drill: Drill, fault: ReadOnlyDatabase) -> None:
    with drill.step("Make the shop's database read-only (default_transaction_read_only)"):
        drill.inject(fault)
        drill.say(
            f"dependency fault: {fault.describe()}; the shop calls no Redis or external API, "
            "so its database is the dependency that fails"
        )


# -- detection ------------------------------------------------------------------------------------
def _detect(drill: Drill, traffic: Traffic, profile: Profile) -> None:
    """TTD: the critical line over the window, held for the window (the rule's `for`)."""
    settings = profile.error_rate
    critical = settings.lines()[0]
    window_s = settings.effective_window_s
    alert = high_error_rate(traffic.recorder, drill.clock, critical, window_s)
    with drill.step(f"Detect: {critical.name} (over {critical.ratio:.0%} for {window_s:g} s)"):
        seen = drill.wait_until(
            alert,
            timeout_s=DETECT_TIMEOUT_S,
            poll_s=0.1,
            stable_for_s=window_s,
            raise_on_timeout=False,
        )
        if not seen.met:
            drill.record_not_detected(seen.last.detail)
            raise CouldNotVerify(
                f"HighErrorRate never held for {window_s:g} s within {DETECT_TIMEOUT_S:g} s "
                f"({seen.last.detail}), so the recovery cannot be judged"
            )
        drill.record_detected(
            f"{seen.last.detail}; the seeds' 5 min window scaled by {settings.window_scale:g}"
        )


# -- runbook steps 1-3 ----------------------------------------------------------------------------
def _scope(drill: Drill, traffic: Traffic) -> None:
    """Step 1: `topk(rate(5xx)) by (endpoint)` and by status, on the requests since the fault."""
    with drill.step("Runbook step 1: scope, failed requests by endpoint and by status"):
        since = drill.fault_at_s or drill.clock.now()
        rows = [(r.at_s, _endpoint(r.name), r.status, r.ok) for r in traffic.recorder.records()]
        found = errors_by_endpoint(rows, since_s=since)
        failing = [e for e in found if e.failures]
        drill.record_figure(
            "endpoints failing",
            float(len(failing)),
            "endpoints",
            detail="; ".join(e.describe() for e in found) or "no request since the fault",
            no_target=_EVIDENCE,
        )


def _endpoint(name: str) -> str:
    """`GET /orders/{key}` for the stream's `GET GET /orders/{key}` (method and a named request)."""
    method, _, rest = name.partition(" ")
    return rest if rest.startswith(f"{method} ") else name


def _logs(drill: Drill, shop: Workload, diagnostics: PodDiagnostics) -> None:
    """Step 2: `kubectl logs deployment/shop | grep ERROR`, over every pod's recent log."""
    with drill.step("Runbook step 2: kubectl logs | grep ERROR"):
        lines: list[str] = []
        for pod in shop.pods():
            try:
                tail = diagnostics.log_tail(pod.name, tail_lines=200)
            except DrillError:
                continue  # replaced since it was listed
            lines += [f"{pod.name}: {line}" for line in tail.splitlines() if "ERROR" in line]
        drill.record_figure(
            "log lines with ERROR",
            float(len(lines)),
            "lines",
            detail=f"last 200 lines of each pod; e.g. {lines[-1][:200]}" if lines else "none",
            no_target=_EVIDENCE,
        )


def _dependencies(drill: Drill, database: Database, fault: ReadOnlyDatabase | None) -> None:
    """Step 3: `psql -c "SELECT 1"` and a write as the shop; fix the dependency if it fails."""
    with drill.step("Runbook step 3: dependencies, SELECT 1 and a write as the shop"):
        answers, said = database.probe(timeout_s=2.0)
        writes, wrote = database.accepts_writes()
        drill.record_figure(
            "database accepts the shop's writes",
            1.0 if answers and writes else 0.0,
            "yes/no",
            detail=f"SELECT 1: {said}; write: {wrote}. redis-cli ping and curl -I: not run, the "
            "shop calls no Redis and no external API",
            no_target="decides whether the dependency is the cause",
        )
        drill.say(
            "runbook step 3 checks the database with SELECT 1 and one write; [003] Issue 4's "
            "'terminate active queries older than 5 min' is not run (RUNBOOKS §5.2: it also "
            "ends backups and migrations)"
        )
    if answers and writes:
        return
    if fault is None:
        raise CouldNotVerify(f"the shop's database refuses its writes ({wrote}): not this drill's")
    with drill.step("Runbook step 3: fix the dependency (ALTER DATABASE ... RESET)"):
        fault.admin.execute(reset_read_only_sql(fault.database))
        drill.record_since_fault(
            "dependency fixed", no_target="when the database took writes again for new sessions"
        )


# -- runbook steps 4-6 ----------------------------------------------------------------------------
Release = tuple[Workload, Rollout, PodTemplate]


def _recent_deploy(drill: Drill, release: Release, traffic: Traffic, profile: Profile) -> None:
    """Step 4: a release since the fault is rolled back (`rollout undo`, `rollout status`)."""
    shop, rollout, good = release
    if not good.differences(rollout.pod_template()):
        drill.record_figure(
            "rollback issued",
            None,
            "s",
            detail="no deploy since the fault: the pod template is the one before it",
            no_target="step 4 applies to a recent deploy only",
        )
        return
    with drill.step("Runbook step 4: kubectl rollout undo deployment/shop"):
        _undo(drill, shop, traffic, profile)
    with drill.step("Runbook step 4: kubectl rollout status deployment/shop"):
        drill.await_recovery(
            rollout_complete(rollout),
            timeout_s=_budget_left_s(drill),
            stable_for_s=0,
            milestone="rollback rolled out",
        )


def _undo(drill: Drill, shop: Workload, traffic: Traffic, profile: Profile) -> None:
    before = shop.revision()
    try:
        revision = shop.rollout_undo()
    except DrillError as exc:
        raise RecoveryStepMissing(
            f"kubectl rollout undo had nothing to go back to ({exc}); "
            f"{_errors_persisted(drill, traffic, profile)}. Keep revision history "
            "(revisionHistoryLimit above 0) so the runbook's rollback can work"
        ) from exc
    drill.record_since_fault(
        "rollback issued",
        detail=f"deployment/{shop.name} revision {before} -> {revision}",
        no_target="time to rollback; TTM is when users stopped failing",
    )


def _errors_persisted(drill: Drill, traffic: Traffic, profile: Profile) -> str:
    """Whether users stopped failing within one alert window of the failed rollback."""
    window_s = profile.error_rate.effective_window_s
    bound = profile.thresholds.error_ratio
    served = error_ratio_below(
        traffic.recorder, bound, window_s=window_s, clock=drill.clock, generator=traffic.load
    )
    seen = drill.wait_until(served, timeout_s=window_s, raise_on_timeout=False)
    if seen.met:
        return f"yet users were served within {window_s:g} s: {seen.last.detail}"
    return f"the errors persisted: {seen.last.detail} after it (bound {bound:.1%})"


def _restart_if_failing(
    drill: Drill, shop: Workload, rollout: Rollout, users_ok: Condition
) -> None:
    """Step 5: users still failing after steps 3-4: `kubectl rollout restart` (not scale to 20)."""
    window_s = drill.spec.waits.stability_window_s
    served = drill.wait_until(users_ok, timeout_s=window_s, raise_on_timeout=False)
    if served.met:
        drill.record_figure(
            "rollout restart needed",
            0.0,
            "yes/no",
            detail=f"users served within {window_s:g} s of steps 3-4: {served.last.detail}",
            no_target=_STEP5,
        )
        return
    with drill.step("Runbook step 5: kubectl rollout restart deployment/shop"):
        stamp = shop.rollout_restart()
        drill.record_figure(
            "rollout restart needed",
            1.0,
            "yes/no",
            detail=f"users still failing after {window_s:g} s ({served.last.detail}); "
            f"restartedAt {stamp}. [004]'s scale to 20 is not run: more pods on the same "
            "dependency would fail the same way",
            no_target=_STEP5,
        )
        drill.await_recovery(
            rollout_complete(rollout),
            timeout_s=_budget_left_s(drill),
            stable_for_s=0,
            milestone="restart rolled out",
        )


_STEP5 = "step 5 runs only when users still fail after steps 3-4"


def _confirm(drill: Drill, recovered: Condition, traffic: Traffic, bound: float) -> None:
    """Step 6: users served under the bound for the stability window (and what `recovered` adds)."""
    with drill.step("Runbook step 6: confirm the error rate"):
        drill.await_recovery(recovered, timeout_s=_budget_left_s(drill))
        _judge_stable_window(drill, traffic, bound)


def _recovered(variant: str, healthy: Condition, rollout: Rollout, good: PodTemplate) -> Condition:
    """Users served and the rollout done; `bad-release`: the pod template reverted, whole."""
    condition = healthy & rollout_complete(rollout)
    if variant == BAD_RELEASE:
        condition = condition & release_is(rollout, good)
    return condition


def _judge_stable_window(drill: Drill, traffic: Traffic, bound: float) -> None:
    """The error ratio over the stability window that ended the recovery, against the bound."""
    window_s = drill.spec.waits.stability_window_s
    now = drill.clock.now()
    seen = traffic.recorder.window(now - window_s, now)
    drill.record_figure(
        "error ratio over the stability window",
        seen.error_ratio,
        "ratio",
        target=bound,
        detail=f"{seen.failures} of {seen.count} user requests failed over {window_s:g} s "
        "after the recovery ([thresholds] error_ratio, 1% [003])",
    )
    if seen.error_ratio is None:
        raise CouldNotVerify("no user request completed over the stability window")
    assert seen.error_ratio <= bound, (
        f"users failed {seen.failures} of {seen.count} requests ({seen.error_ratio:.2%}) over "
        f"the stability window after the recovery, over the bound of {bound:.2%}"
    )


def _record_figures(drill: Drill, profile: Profile, traffic: Traffic) -> None:
    """User-side figures and when each HighErrorRate line would have fired."""
    users = traffic.record_user_side(drill)
    if drill.fault_at_s is None:
        return
    drill.record_figure(
        "failed user requests",
        None if users is None else float(users.failures),
        "requests",
        detail="from the fault to the end of the recovery"
        + ("" if users is None else f", of {users.count}"),
        no_target="what the incident cost users; TTM and TTR carry the targets",
    )
    until = drill.recovered_at_s if drill.recovered_at_s is not None else drill.clock.now()
    firings = alert_firings(
        traffic.recorder, profile.error_rate, since_s=drill.fault_at_s, until_s=until
    )
    record_alert_firings(drill, firings)
