"""Grading a practical (RUNBOOKS.md §4.2): scripted good and bad trainees, evidence built by hand.

Kubernetes actions here have the shapes the audit log records for real kubectl commands (see
data/audit.jsonl and test_evidence.py); times are seconds after the injection at T0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from drills.certification.practicals import practical_for
from drills.core.actions import Action, Json, Source, TraineeVerb
from drills.core.certification import (
    Criterion,
    Evidence,
    Grade,
    GradingPolicy,
    Outcome,
    Verdict,
    grade,
)
from drills.core.objectives import Objective, ObjectiveKind, evaluate

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC).timestamp()
USER = "drills-trainee:alice"
ROLE = "trainee_alice"


def kube(
    at: float, verb: str, resource: str, name: str = "", sub: str = "", body: Json = None
) -> Action:
    return Action(
        T0 + at,
        Source.KUBE,
        USER,
        verb,
        resource=resource,
        name=name,
        subresource=sub,
        namespace="default",
        code=200,
        succeeded=True,
        body=body,
    )


def sql(at: float, text: str, *, failed: bool = False) -> Action:
    verb = text.split()[0].lower()
    return Action(T0 + at, Source.SQL, ROLE, verb, name="shop", text=text, succeeded=not failed)


def me(verb: TraineeVerb, at: float, *, name: str = "", text: str = "") -> Action:
    return Action.trainee(verb, T0 + at, USER, name=name, text=text)


def iso(at: float) -> str:
    return datetime.fromtimestamp(T0 + at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


UNDO: Json = [{"op": "replace", "path": "/spec/template", "value": {"spec": {}}}]
RESTARTED: Json = {
    "spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "x"}}}}
}
NOTICE = """INCIDENT: shop pods crash-looping after a release
SEVERITY: P1 (HIGH)
STATUS: RESOLVED
ETA: resolved
IMPACT: none visible to users; old pods kept serving
ROOT CAUSE: bad release
MITIGATION: kubectl rollout undo deployment/shop
"""


def postmortem(
    detected: float, investigating: float, cause: float, fix: float, restored: float
) -> str:
    return "\n".join(
        [
            "## Timeline",
            f"- {iso(detected)} detected",
            f"- {iso(investigating)} investigation started",
            f"- {iso(cause)} root cause identified",
            f"- {iso(fix)} fix applied",
            f"- {iso(restored)} service restored",
        ]
    )


RTO = evaluate(Objective(ObjectiveKind.RTO, "shop", 900.0), 420.0)
RPO = evaluate(Objective(ObjectiveKind.RPO, "shop", 300.0), 0.0)


def crashloop_trainee() -> list[Action]:
    """Follows RUNBOOKS.md §3.1 in order, acknowledges, tells, files the post-mortem."""
    return [
        me(TraineeVerb.ACK, 60),
        kube(90, "list", "pods"),
        kube(120, "get", "pods", "shop-1", "log"),
        kube(300, "patch", "deployments", "shop", body=UNDO),
        kube(330, "watch", "deployments", "shop"),
        me(TraineeVerb.NOTICE, 400, text=NOTICE),
        me(TraineeVerb.POSTMORTEM, 600, text=postmortem(60, 90, 200, 300, 420)),
    ]


def evidence(actions: Iterable[Action], **changes: object) -> Evidence:
    base = Evidence(
        injected_at_s=T0,
        finished_at_s=T0 + 900,
        actions=tuple(actions),
        outcome=Outcome(held=True, detail="steady state held for 10 s"),
        objectives=(RTO, RPO),
        detected_at_s=T0 + 30,
        resolved_at_s=T0 + 420,
        trainee="alice",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def crashloop(
    actions: Iterable[Action], *, policy: GradingPolicy | None = None, **changes: object
) -> Grade:
    return grade(
        practical_for("crashloop-rollback"), "bad-image", evidence(actions, **changes), policy
    )


def reasons(graded: Grade, criterion: Criterion) -> list[str]:
    return list(graded.result(criterion).reasons)


def test_the_good_trainee_passes_and_the_grade_shows_where_the_time_went() -> None:
    graded = crashloop(crashloop_trainee())
    assert graded.verdict is Verdict.PASS, graded.reasons()
    assert [r.verdict for r in graded.criteria] == [Verdict.PASS] * 9
    assert [t.seen_s for t in graded.timings] == [90.0, 120.0, 300.0, 330.0]
    assert graded.ack_s == 60.0
    text = graded.render()
    assert "where the time went" in text
    assert "mitigate/rollout-undo (required)" in text
    assert "+5m" in text
    assert "/ 15m" in text


def test_deleting_pods_instead_of_rolling_back_is_a_missing_step_not_a_safety_failure() -> None:
    actions = [a for a in crashloop_trainee() if a.verb not in ("patch", "watch")]
    actions.append(kube(300, "delete", "pods", "shop-1", body={"gracePeriodSeconds": 0}))
    graded = crashloop(actions)
    assert graded.verdict is Verdict.FAIL
    assert graded.result(Criterion.STEPS).verdict is Verdict.FAIL
    assert reasons(graded, Criterion.STEPS) == [
        "step missing: rollout-undo (kubectl rollout undo deployment/shop); expected "
        "kubectl rollout undo deployment/shop: kube patch|update deployments/shop; "
        "spec.template replaced",
        "step missing: rollout-status (kubectl rollout status deployment/shop until done); "
        "expected kubectl rollout status: kube get|list|watch deployments/shop, after rollout-undo",
    ]
    assert graded.result(Criterion.SAFETY).verdict is Verdict.PASS


def test_a_rollout_restart_is_not_a_rollback() -> None:
    actions = [a for a in crashloop_trainee() if a.verb != "patch"]
    actions.append(kube(300, "patch", "deployments", "shop", body=RESTARTED))
    graded = crashloop(actions)
    assert any(r.startswith("step missing: rollout-undo") for r in reasons(graded, Criterion.STEPS))


def test_acting_before_looking_breaks_the_order() -> None:
    actions = [a for a in crashloop_trainee() if a.verb != "list"]
    actions.append(kube(310, "list", "pods"))
    graded = crashloop(actions)
    assert graded.result(Criterion.ORDER).verdict is Verdict.FAIL
    assert reasons(graded, Criterion.ORDER) == [
        "rollout-undo (+5m) came before find-pods (+5m10s); the runbook does find-pods first"
    ]


def test_never_acknowledging_fails_timeliness() -> None:
    graded = crashloop([a for a in crashloop_trainee() if a.verb != "ack"])
    assert graded.verdict is Verdict.FAIL
    assert reasons(graded, Criterion.TIMELINESS) == ["never acknowledged the page"]


def test_a_late_acknowledgement_fails_timeliness() -> None:
    actions = [a for a in crashloop_trainee() if a.verb != "ack"] + [me(TraineeVerb.ACK, 301)]
    graded = crashloop(actions)
    assert reasons(graded, Criterion.TIMELINESS) == ["acknowledged at +5m01s, budget 5m"]


def test_over_budget_fails_timeliness_with_each_late_step() -> None:
    late = [
        replace(a, at_s=a.at_s + 700) if a.source is Source.KUBE else a for a in crashloop_trainee()
    ]
    graded = crashloop(late, resolved_at_s=T0 + 1100, finished_at_s=T0 + 1200)
    assert graded.result(Criterion.TIMELINESS).verdict is Verdict.FAIL
    assert reasons(graded, Criterion.TIMELINESS) == [
        "find-pods at +13m10s, budget 5m",
        "read-evidence at +13m40s, budget 5m",
        "rollout-undo at +16m40s, budget 15m",
        "phase detect done at +13m40s, budget 5m (last of find-pods, read-evidence)",
        "phase mitigate done at +16m40s, budget 15m (last of rollout-undo)",
    ]


def test_a_scaled_clock_scales_every_budget() -> None:
    fast = [replace(a, at_s=T0 + (a.at_s - T0) / 100) for a in crashloop_trainee()]
    fast[3] = replace(fast[3], at_s=T0 + 9.5)  # rollout undo at 9.5 s: over 15 min x 0.01
    policy = GradingPolicy(time_scale=0.01, postmortem_tolerance_s=600)
    graded = crashloop(fast, policy=policy, finished_at_s=T0 + 9.9, resolved_at_s=T0 + 9.8)
    assert "rollout-undo at +9.5s, budget 9s" in reasons(graded, Criterion.TIMELINESS)
    assert "budgets scaled by 0.01" in graded.render()


def test_the_notice_must_carry_every_field_and_the_page_severity() -> None:
    notice = (
        "INCIDENT: shop down\nSEVERITY: CRITICAL\nSTATUS: INVESTIGATING\nETA: [Expected time]\n"
    )
    actions = [a for a in crashloop_trainee() if a.verb != "notice"]
    graded = crashloop([*actions, me(TraineeVerb.NOTICE, 400, text=notice)])
    assert graded.result(Criterion.COMMUNICATION).verdict is Verdict.FAIL
    assert reasons(graded, Criterion.COMMUNICATION) == [
        "notice lacks ETA, IMPACT, ROOT CAUSE, MITIGATION",
        "notice says SEVERITY 'CRITICAL', the page was P1",
    ]


def test_no_notice_fails_communication() -> None:
    graded = crashloop([a for a in crashloop_trainee() if a.verb != "notice"])
    assert reasons(graded, Criterion.COMMUNICATION) == ["no incident notice was posted"]


def test_a_postmortem_off_by_more_than_the_tolerance_fails() -> None:
    actions = [a for a in crashloop_trainee() if a.verb != "postmortem"]
    report = postmortem(60, 90, 200, 300 + 121, 420)
    graded = crashloop([*actions, me(TraineeVerb.POSTMORTEM, 600, text=report)])
    assert graded.result(Criterion.POSTMORTEM).verdict is Verdict.FAIL
    assert reasons(graded, Criterion.POSTMORTEM) == [
        "'fix applied' written as +7m01s, evidence says +5m (first mitigation step): "
        "off by 2m01s, tolerance 2m"
    ]


def test_a_postmortem_within_the_tolerance_passes_and_lacking_an_entry_fails() -> None:
    actions = [a for a in crashloop_trainee() if a.verb != "postmortem"]
    close = postmortem(60, 90, 200, 300 + 119, 420)
    assert (
        crashloop([*actions, me(TraineeVerb.POSTMORTEM, 600, text=close)]).verdict is Verdict.PASS
    )
    short = "\n".join(close.splitlines()[:-1])
    graded = crashloop([*actions, me(TraineeVerb.POSTMORTEM, 600, text=short)])
    assert reasons(graded, Criterion.POSTMORTEM) == ["the timeline lacks 'service restored'"]


def test_no_audit_log_is_could_not_verify_never_pass() -> None:
    actions = [a for a in crashloop_trainee() if a.source is not Source.KUBE]
    missing = {Source.KUBE: "no audit log at .drills/sandbox/audit.log (is the sandbox up?)"}
    graded = crashloop(actions, missing=missing)
    assert graded.verdict is Verdict.COULD_NOT_VERIFY
    assert graded.result(Criterion.STEPS).verdict is Verdict.COULD_NOT_VERIFY
    assert reasons(graded, Criterion.STEPS)[0] == (
        "cannot tell whether find-pods (kubectl get pods: find the pods in CrashLoopBackOff) was "
        "done: no audit log at .drills/sandbox/audit.log (is the sandbox up?)"
    )
    assert graded.result(Criterion.SAFETY).verdict is Verdict.COULD_NOT_VERIFY


def test_no_outcome_or_objectives_is_could_not_verify() -> None:
    graded = crashloop(crashloop_trainee(), outcome=None, objectives=())
    assert graded.verdict is Verdict.COULD_NOT_VERIFY
    assert graded.result(Criterion.OUTCOME).verdict is Verdict.COULD_NOT_VERIFY
    assert graded.result(Criterion.OBJECTIVES).verdict is Verdict.COULD_NOT_VERIFY


def test_an_unrecovered_service_fails_outcome_and_objectives() -> None:
    breached = evaluate(Objective(ObjectiveKind.RTO, "shop", 900.0), 1200.0)
    graded = crashloop(
        crashloop_trainee(),
        outcome=Outcome(held=False, detail="pods not Ready"),
        objectives=(breached,),
    )
    assert reasons(graded, Criterion.OUTCOME) == ["steady state did not hold: pods not Ready"]
    assert reasons(graded, Criterion.OBJECTIVES) == ["shop RTO: measured 20m vs target 15m -> FAIL"]


def test_escalation_is_needed_only_while_unresolved_at_the_mark() -> None:
    slow = crashloop_trainee()
    graded = crashloop(slow, resolved_at_s=T0 + 1000, finished_at_s=T0 + 1200)
    assert reasons(graded, Criterion.ESCALATION) == [
        "still unresolved at +15m (resolved +16m40s) and level 2 was not paged by +16m"
    ]
    paged = crashloop(
        [*slow, me(TraineeVerb.PAGE, 930, name="2")],
        resolved_at_s=T0 + 1000,
        finished_at_s=T0 + 1200,
    )
    assert paged.result(Criterion.ESCALATION).verdict is Verdict.PASS
    too_late = crashloop(
        [*slow, me(TraineeVerb.PAGE, 961, name="2")],
        resolved_at_s=T0 + 1000,
        finished_at_s=T0 + 1200,
    )
    assert too_late.result(Criterion.ESCALATION).verdict is Verdict.FAIL
    assert crashloop(slow).result(Criterion.ESCALATION).verdict is Verdict.PASS  # resolved at 7m


def test_unknown_resolution_after_the_mark_is_could_not_verify_for_escalation() -> None:
    graded = crashloop(crashloop_trainee(), resolved_at_s=None, finished_at_s=T0 + 1000)
    assert graded.result(Criterion.ESCALATION).verdict is Verdict.COULD_NOT_VERIFY
    # Without the journal's time the resolve phase ends at the last required resolve step.
    assert graded.phases[-1].how == "last of rollout-status"
    assert reasons(graded, Criterion.POSTMORTEM) == [
        "no evidence of when 'service restored' happened (journal: steady state held again)"
    ]


# -- snapshot-restore: stop writes -> evidence -> restore -> restart (RUNBOOKS.md §3.6) ---------
ZERO: Json = {"spec": {"replicas": 0}}
TEN: Json = {"spec": {"replicas": 10}}
NEWEST = "drills-backups/snapshots/dump-20260101T095000-5f5fe6/dump.pgc"


def fetched(at: float) -> Action:
    """`aws s3 cp s3://<newest dump> .` as moto's request log shows it (no identity)."""
    return Action(T0 + at, Source.AWS, "unknown", "GetObject", resource="s3", name=NEWEST)


def restore_trainee(*, restore_at: float = 400) -> list[Action]:
    notice = NOTICE.replace("P1 (HIGH)", "P0")
    return [
        me(TraineeVerb.ACK, 30),
        sql(60, "SELECT count(*) FROM orders;"),
        kube(120, "patch", "deployments", "shop", "scale", body=ZERO),
        sql(200, "COPY public.orders (id, order_key) TO stdout;"),
        fetched(300),
        sql(restore_at, "COPY public.orders (id, order_key) FROM stdin;"),
        kube(500, "patch", "deployments", "shop", body=TEN),
        me(TraineeVerb.NOTICE, 550, text=notice),
        me(TraineeVerb.POSTMORTEM, 700, text=postmortem(30, 60, 100, 120, 600)),
    ]


def restore(actions: Iterable[Action], variant: str = "drop-table") -> Grade:
    ev = evidence(actions, resolved_at_s=T0 + 600)
    return grade(practical_for("snapshot-restore"), variant, ev)


def test_the_good_restore_passes() -> None:
    graded = restore(restore_trainee())
    assert graded.verdict is Verdict.PASS, graded.reasons()


def test_restoring_before_stopping_writes_fails_the_order() -> None:
    graded = restore(restore_trainee(restore_at=100))
    assert graded.result(Criterion.ORDER).verdict is Verdict.FAIL
    assert reasons(graded, Criterion.ORDER) == [
        "restore (+1m40s) came before stop-writes (+2m); the runbook does stop-writes first",
        "restore (+1m40s) came before preserve-evidence (+3m20s); the runbook does "
        "preserve-evidence first",
    ]
    assert graded.result(Criterion.STEPS).verdict is Verdict.PASS


def test_a_dropped_table_is_confirmed_by_a_refused_count_and_dumped_without_copy() -> None:
    """After DROP TABLE the count fails and pg_dump finds no table: both are still the steps."""
    actions = restore_trainee()
    actions[1] = sql(60, "SELECT count(*) FROM orders;", failed=True)
    actions[3] = sql(200, "SELECT pg_catalog.set_config('search_path', '', false);")
    assert restore(actions).result(Criterion.STEPS).verdict is Verdict.FAIL  # not pg_dump's
    actions[3] = replace(actions[3], agent="pg_dump")
    graded = restore(actions)
    assert graded.verdict is Verdict.PASS, graded.reasons()


def test_a_restore_without_fetching_the_newest_dump_misses_a_step() -> None:
    graded = restore([a for a in restore_trainee() if a.source is not Source.AWS])
    assert graded.result(Criterion.STEPS).verdict is Verdict.FAIL
    assert any(r.startswith("step missing: fetch-backup") for r in reasons(graded, Criterion.STEPS))


# -- db-pool-exhaustion: only idle sessions may be terminated (RUNBOOKS.md §3.5, §5.2) --------
IDLE_RULE = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle' "
    "AND state_change < NOW() - INTERVAL '10 minutes';"
)
EVERYTHING = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid();"


def pool_trainee(terminate: str) -> list[Action]:
    return [
        me(TraineeVerb.ACK, 20),
        sql(60, "SELECT state, count(*) FROM pg_stat_activity GROUP BY state;"),
        sql(200, terminate),
        sql(260, "SELECT count(*) FROM pg_stat_activity;"),
        me(TraineeVerb.NOTICE, 300, text=NOTICE),
        me(TraineeVerb.POSTMORTEM, 500, text=postmortem(20, 60, 120, 200, 300)),
    ]


def pool(actions: Iterable[Action]) -> Grade:
    ev = evidence(actions, resolved_at_s=T0 + 300)
    return grade(practical_for("db-pool-exhaustion"), "idle-leak", ev)


def test_terminating_idle_sessions_by_the_rule_passes() -> None:
    graded = pool(pool_trainee(IDLE_RULE))
    assert graded.verdict is Verdict.PASS, graded.reasons()


def test_terminating_every_session_is_a_safety_failure() -> None:
    graded = pool(pool_trainee(EVERYTHING))
    assert graded.result(Criterion.SAFETY).verdict is Verdict.FAIL
    assert reasons(graded, Criterion.SAFETY) == [
        "hazardous action terminate-every-active-query at +3m20s: terminating sessions without "
        "the idle filter kills long backups and migrations (RUNBOOKS.md §5.2, 003 § Issue 4)"
    ]


def test_a_failed_statement_is_not_a_step() -> None:
    actions = pool_trainee(IDLE_RULE)
    actions[2] = replace(actions[2], succeeded=False)
    graded = pool(actions)
    assert any(
        r.startswith("step missing: terminate-idle") for r in reasons(graded, Criterion.STEPS)
    )


# -- a good trainee passes every practical and variant --------------------------------------------
def _rds(at: float, action: str) -> Action:
    return Action(T0 + at, Source.AWS, "drills-trainee-alice", action, resource="rds")


def _in(at: float, action: Action) -> Action:
    return replace(action, at_s=T0 + at)


GOOD_STEPS: dict[tuple[str, str], list[Action]] = {
    ("pod-kill-under-load", "fraction"): [kube(60, "list", "pods"), kube(200, "list", "pods")],
    ("pod-kill-under-load", "zero"): [
        kube(60, "list", "pods"),
        kube(120, "patch", "deployments", "shop", "scale", body={"spec": {"replicas": 3}}),
        kube(200, "watch", "deployments", "shop"),
    ],
    ("pitr", "bad-update"): [
        sql(60, "SELECT count(*), max(created_at) FROM orders;"),
        _rds(120, "RestoreDBInstanceToPointInTime"),
        sql(200, "SELECT count(*) FROM orders;"),
        sql(220, "SELECT pg_promote();"),
        _in(240, replace(kube(0, "patch", "secrets", "shop-db"), body=None)),
        kube(260, "patch", "deployments", "shop", body=RESTARTED),
    ],
    ("hpa-spike", "spike"): [
        kube(60, "list", "horizontalpodautoscalers"),
        kube(200, "watch", "horizontalpodautoscalers"),
    ],
    ("hpa-spike", "no-hpa"): [
        kube(60, "list", "horizontalpodautoscalers"),
        kube(100, "create", "horizontalpodautoscalers", "shop"),
        kube(120, "patch", "deployments", "shop", body={"spec": {"replicas": 10}}),
        kube(200, "list", "pods"),
    ],
}


@pytest.mark.parametrize(("drill", "variant"), sorted(GOOD_STEPS))
def test_a_good_trainee_passes(drill: str, variant: str) -> None:
    practical = practical_for(drill)
    severity = practical.alert_for(variant).severity
    steps = GOOD_STEPS[(drill, variant)]
    fix = min(a.at_s for a in steps[1:]) - T0
    actions = [
        me(TraineeVerb.ACK, 30),
        *steps,
        me(TraineeVerb.NOTICE, 250, text=NOTICE.replace("P1 (HIGH)", severity)),
        me(TraineeVerb.POSTMORTEM, 500, text=postmortem(30, 60, fix - 10, fix, 300)),
    ]
    ev = evidence(actions, mitigated_at_s=T0 + fix, resolved_at_s=T0 + 300)
    graded = grade(practical, variant, ev)
    assert graded.verdict is Verdict.PASS, graded.reasons()


def test_a_check_before_the_fix_does_not_count_as_verifying_it() -> None:
    """`rollout status` verifies the undo: a read of the Deployment before it shows nothing."""
    actions = [a for a in crashloop_trainee() if a.verb != "watch"]
    actions.append(kube(299, "get", "deployments", "shop"))  # `rollout undo` reads it first
    graded = crashloop(actions)
    assert graded.result(Criterion.STEPS).verdict is Verdict.FAIL
    assert any("step missing: rollout-status" in r for r in reasons(graded, Criterion.STEPS))
    later = [*actions, kube(301, "get", "deployments", "shop")]
    assert crashloop(later).result(Criterion.STEPS).verdict is Verdict.PASS


@pytest.mark.parametrize(
    ("drill", "variant", "left_out", "step"),
    [
        ("pod-kill-under-load", "zero", "patch", "capacity-back"),  # never scaled back up
        ("hpa-spike", "no-hpa", "create", "restore-hpa"),  # scaled by hand, HPA not re-applied
    ],
)
def test_a_trainee_who_skips_the_fixing_step_fails_on_it(
    drill: str, variant: str, left_out: str, step: str
) -> None:
    """What the e2e tests leave to the unit level: the fix itself missing from the evidence."""
    steps = [a for a in GOOD_STEPS[(drill, variant)] if a.verb != left_out]
    graded = grade(practical_for(drill), variant, evidence(steps))
    assert graded.result(Criterion.STEPS).verdict is Verdict.FAIL
    assert any(r.startswith(f"step missing: {step}") for r in reasons(graded, Criterion.STEPS))
