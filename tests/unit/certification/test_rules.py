"""The building blocks of a grade: body rules, matchers, the notice, the post-mortem timeline,
the order rule and the verdict rule, with properties where they fit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.core.actions import Action, BodyRule, BodyTest, Json, Matcher, Source, TraineeVerb
from drills.core.certification import (
    Checkpoint,
    Criterion,
    Evidence,
    Outcome,
    PagerAlert,
    Phase,
    Practical,
    Variant,
    Verdict,
    grade,
)
from drills.core.errors import ConfigError
from drills.core.notice import check_notice, parse_notice, severities_named
from drills.core.objectives import Objective, ObjectiveKind, evaluate
from drills.core.postmortem import TimelineEntry, parse_timeline

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC).timestamp()
NAMES = {"deployment": "shop", "namespace": "default"}


def test_body_rules_read_merge_patches_json_patches_and_whole_objects() -> None:
    replicas = BodyRule(("spec", "replicas"), BodyTest.EQUALS, 0)
    assert replicas.holds({"spec": {"replicas": 0}})
    assert replicas.holds([{"op": "replace", "path": "/spec/replicas", "value": 0}])
    assert replicas.holds([{"op": "add", "path": "/spec", "value": {"replicas": 0}}])
    assert not replicas.holds([{"op": "remove", "path": "/spec/replicas"}])
    assert not replicas.holds(None)
    assert BodyRule(("spec", "replicas"), BodyTest.AT_LEAST, 3).holds({"spec": {"replicas": 10}})
    assert not BodyRule(("spec", "replicas"), BodyTest.AT_MOST, 3).holds(
        {"spec": {"replicas": "x"}}
    )


def test_replaced_means_written_whole() -> None:
    template = BodyRule(("spec", "template"), BodyTest.REPLACED)
    assert template.holds([{"op": "replace", "path": "/spec/template", "value": {}}])
    assert not template.holds([{"op": "replace", "path": "/spec/template/spec", "value": {}}])
    assert not template.holds({"spec": {"template": {"metadata": {}}}})  # a merge patch
    assert template.holds({"kind": "Deployment", "spec": {"template": {}}})  # an update
    escaped = BodyRule(("metadata", "annotations", "a/b"), BodyTest.REPLACED)
    assert escaped.holds([{"op": "add", "path": "/metadata/annotations/a~1b", "value": "x"}])


def _kube(verb: str, name: str, **extra: object) -> Action:
    return Action(T0, Source.KUBE, "u", verb, resource="deployments", name=name, **extra)  # type: ignore[arg-type]


def test_matchers_fill_placeholders_and_say_what_they_expect() -> None:
    matcher = Matcher(
        Source.KUBE,
        ("patch",),
        "deployments",
        name="{deployment}",
        body=(BodyRule(("spec", "replicas"), BodyTest.EQUALS, 0),),
        what="kubectl scale deployment/{deployment} --replicas=0",
    )
    assert matcher.matches(_kube("patch", "shop", body={"spec": {"replicas": 0}}), NAMES)
    assert not matcher.matches(_kube("patch", "other", body={"spec": {"replicas": 0}}), NAMES)
    assert not matcher.matches(
        _kube("patch", "shop", body={"spec": {"replicas": 0}}, succeeded=False), NAMES
    )
    assert matcher.describe(NAMES) == (
        "kubectl scale deployment/shop --replicas=0: kube patch deployments/shop; "
        "spec.replicas equals 0"
    )
    with pytest.raises(ConfigError, match="names 'deployment'"):
        matcher.matches(_kube("patch", "shop"), {})


def test_a_namespaced_matcher_accepts_an_all_namespaces_read() -> None:
    pods = Matcher(Source.KUBE, ("list",), "pods", namespace="{namespace}")
    everywhere = Action(T0, Source.KUBE, "u", "list", resource="pods")
    elsewhere = Action(T0, Source.KUBE, "u", "list", resource="pods", namespace="kube-system")
    assert pods.matches(everywhere, NAMES)
    assert not pods.matches(elsewhere, NAMES)


def test_notice_fields_in_either_template() -> None:
    text = (
        "**Incident**: shop down\n- Severity: P1\nStatus: INVESTIGATING\nETA Resolution: 30 min\n"
    )
    text += "Affected: checkout\nRoot Cause: [If known]\nMITIGATION: rolling back\n"
    fields = parse_notice(text)
    assert fields == {
        "incident": "shop down",
        "severity": "P1",
        "status": "INVESTIGATING",
        "eta": "30 min",
        "impact": "checkout",
        "mitigation": "rolling back",
    }
    check = check_notice(text, "P1")
    assert check.missing == ("root cause",)
    assert check.severity_ok


@given(st.sampled_from(["P0", "P1", "P2", "P3"]), st.sampled_from(["P0", "P1", "P2", "P3"]))
def test_the_notice_severity_must_name_exactly_the_pages(written: str, paged: str) -> None:
    words = {"P0": "CRITICAL", "P1": "HIGH", "P2": "MEDIUM", "P3": "LOW"}
    for value in (written, words[written], f"{written} ({words[written]})", written.lower()):
        assert check_notice(f"SEVERITY: {value}", paged).severity_ok is (written == paged)
    assert severities_named(f"{written}/{paged}") == {written, paged}


def test_timeline_formats() -> None:
    text = """Timeline
    - 10:02:10 detected
    - 2026-01-01T12:05:00+02:00 investigation started
    - +07:30 root cause identified
    - fix applied: 10:11
    - 10:13:40 UTC service restored
    - nothing here: detected again 10:59
    """
    parsed = parse_timeline(text, injected_at_s=T0, tz=UTC)
    assert {e: at - T0 for e, at in parsed.times.items()} == {
        TimelineEntry.DETECTED: 130.0,
        TimelineEntry.INVESTIGATION_STARTED: 300.0,
        TimelineEntry.ROOT_CAUSE_IDENTIFIED: 450.0,
        TimelineEntry.FIX_APPLIED: 660.0,
        TimelineEntry.SERVICE_RESTORED: 820.0,
    }
    assert parse_timeline("- fixed, no time", injected_at_s=T0, tz=UTC).untimed == (
        "- fixed, no time",
    )


def test_clock_times_are_read_in_the_policy_zone_on_the_nearest_day() -> None:
    dhaka = timezone(timedelta(hours=6))
    late = datetime(2026, 1, 1, 23, 58, tzinfo=dhaka).timestamp()
    parsed = parse_timeline("00:03 service restored", injected_at_s=late, tz=dhaka)
    assert parsed.times[TimelineEntry.SERVICE_RESTORED] - late == 300.0


@given(
    st.floats(min_value=0, max_value=3000, allow_nan=False),
    st.integers(min_value=0, max_value=600),
)
def test_an_offset_timeline_reads_back_to_the_second(at_s: float, extra: int) -> None:
    whole = int(at_s)
    text = f"T+{whole // 60:02d}:{whole % 60:02d} fix applied"
    parsed = parse_timeline(text, injected_at_s=T0 + extra, tz=UTC)
    assert parsed.times[TimelineEntry.FIX_APPLIED] == T0 + extra + whole


def _look(step: str, resource: str) -> Matcher:
    return Matcher(Source.KUBE, ("patch",), resource)


ORDERED = Practical(
    drill_id="toy",
    runbook="§0",
    title="two steps in order",
    alert=PagerAlert("Toy", "P2", "toy", "shop"),
    variants=(Variant("one", "the only one"), Variant("two", "another")),
    checkpoints=(
        Checkpoint("first", "first", (_look("first", "a"),), Phase.MITIGATE),
        Checkpoint("second", "second", (_look("second", "b"),), Phase.MITIGATE, after=("first",)),
    ),
)


def _toy_evidence(first_s: float | None, second_s: float | None) -> Evidence:
    actions = [Action.trainee(TraineeVerb.ACK, T0 + 1, "u")]
    for at, resource in ((first_s, "a"), (second_s, "b")):
        if at is not None:
            actions.append(Action(T0 + at, Source.KUBE, "u", "patch", resource=resource))
    return Evidence(T0, T0 + 800, tuple(actions), outcome=Outcome(held=True))


@given(
    st.one_of(st.none(), st.floats(min_value=0, max_value=800)),
    st.one_of(st.none(), st.floats(min_value=0, max_value=800)),
)
def test_order_fails_exactly_when_the_later_step_came_first(
    first_s: float | None, second_s: float | None
) -> None:
    graded = grade(ORDERED, "one", _toy_evidence(first_s, second_s))
    order = graded.result(Criterion.ORDER).verdict
    # Compared as the grade sees them: epoch seconds, where a tiny offset vanishes.
    swapped = first_s is not None and second_s is not None and T0 + second_s < T0 + first_s
    assert order is (Verdict.FAIL if swapped else Verdict.PASS)
    steps = graded.result(Criterion.STEPS).verdict
    assert steps is (Verdict.FAIL if first_s is None or second_s is None else Verdict.PASS)


@given(st.sets(st.sampled_from(list(Criterion))))
def test_the_grade_passes_only_when_every_criterion_does(broken: set[Criterion]) -> None:
    rto = evaluate(Objective(ObjectiveKind.RTO, "shop", 900), 10)
    notice = "\n".join(
        f"{f}: x" for f in ("INCIDENT", "STATUS", "ETA", "IMPACT", "ROOT CAUSE", "MITIGATION")
    )
    report = "\n".join(
        f"+00:0{n} {e}" for n, e in enumerate(("detected", "investigation started"), start=1)
    )
    report += "\n+00:04 root cause identified\n+00:05 fix applied\n+00:09 service restored"
    actions = [
        Action.trainee(TraineeVerb.NOTICE, T0 + 50, "u", text=notice + "\nSEVERITY: P2"),
        Action.trainee(TraineeVerb.POSTMORTEM, T0 + 60, "u", text=report),
    ]
    evidence = _toy_evidence(3, 5)
    evidence = Evidence(
        T0,
        T0 + 800,
        evidence.actions + tuple(actions),
        outcome=Outcome(held=Criterion.OUTCOME not in broken),
        objectives=(rto,) if Criterion.OBJECTIVES not in broken else (),
        detected_at_s=T0 + 1,
        resolved_at_s=T0 + 9,
    )
    graded = grade(ORDERED, "one", evidence)
    assert (graded.verdict is Verdict.PASS) is (
        not broken & {Criterion.OUTCOME, Criterion.OBJECTIVES}
    ), graded.reasons()


def test_a_practical_rejects_steps_that_follow_unknown_or_later_ones() -> None:
    with pytest.raises(ConfigError, match="earlier checkpoints"):
        Practical(
            "toy",
            "§0",
            "t",
            ORDERED.alert,
            ORDERED.variants,
            (
                Checkpoint("a", "a", (), Phase.DETECT, after=("b",)),
                Checkpoint("b", "b", (), Phase.DETECT),
            ),
        )
    with pytest.raises(ConfigError, match="no variant 'three'"):
        ORDERED.checkpoints_for("three")


def test_body_json_alias_accepts_nested_values() -> None:
    body: Json = {"a": [1, "x", {"b": None}]}
    assert BodyRule(("a",)).holds(body)
