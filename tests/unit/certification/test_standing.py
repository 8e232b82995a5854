"""Standing: the RUNBOOKS §4.1 required set, latest PASS per requirement, re-certification due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drills.certification.practicals import practical_for
from drills.certification.record import QUIZ_ID, SHADOW_ID, GradeRecord, RecordKind
from drills.certification.settings import CertificationSettings
from drills.certification.standing import REQUIRED, Status, standing
from drills.core.objectives import Verdict

START = datetime(2026, 1, 1, tzinfo=UTC)
SETTINGS = CertificationSettings(recertify_every_s=90 * 86400)


def record(
    drill_id: str,
    *,
    day: int = 0,
    variant: str = "",
    verdict: Verdict = Verdict.PASS,
    kind: RecordKind = RecordKind.PRACTICAL,
) -> GradeRecord:
    return GradeRecord(
        trainee="alice",
        kind=kind,
        drill_id=drill_id,
        verdict=verdict,
        recorded_at=START + timedelta(days=day),
        variant=variant,
        run_id=f"run-{drill_id}-{day}",
    )


def every_requirement(day: int = 0) -> list[GradeRecord]:
    records = []
    for req in REQUIRED:
        variant = req.variants[0] if req.variants else ""
        records.append(record(req.id, day=day, variant=variant, kind=req.kind))
    return records


def test_the_required_set_is_runbooks_4_1() -> None:
    labels = [r.label() for r in REQUIRED]
    assert labels[:4] == [
        "pod-kill-under-load (all or deployment-deleted)",
        "snapshot-restore (drop-table or delete-rows)",
        "pitr",
        "ingress-unreachable",
    ]
    assert {r.id for r in REQUIRED if r.area == "troubleshooting scenarios"} == {
        "crashloop-rollback",
        "oom-memory-leak",
        "db-connection-failure",
        "db-pool-exhaustion",
        "high-cpu-latency",
        "error-rate-rollback",
    }
    assert labels[-2:] == [QUIZ_ID, SHADOW_ID]


def test_nothing_recorded_means_everything_missing() -> None:
    result = standing("alice", [], settings=SETTINGS, now=START)
    assert not result.certified
    assert {row.status for row in result.rows} == {Status.MISSING}
    assert result.next_due is None


def test_every_requirement_passed_is_certified_until_the_earliest_due_date() -> None:
    records = every_requirement()
    records[0] = record("pod-kill-under-load", day=-10, variant="all")
    result = standing("alice", records, settings=SETTINGS, now=START + timedelta(days=1))
    assert result.certified
    assert result.missing() == ()
    assert result.next_due == START + timedelta(days=80)


def test_only_the_variants_that_count_meet_a_requirement() -> None:
    records = [record("pod-kill-under-load", variant="fraction")]
    result = standing("alice", records, settings=SETTINGS, now=START)
    assert result.rows[0].status is Status.MISSING
    assert result.rows[0].last_attempt == records[0]
    assert result.others == (records[0],)  # shown as a pass outside the required set
    records.append(record("pod-kill-under-load", day=1, variant="deployment-deleted"))
    result = standing("alice", records, settings=SETTINGS, now=START + timedelta(days=1))
    assert result.rows[0].status is Status.CERTIFIED


def test_a_pass_older_than_the_cadence_is_due_again_but_a_signoff_is_not() -> None:
    records = every_requirement()
    later = START + timedelta(days=90)
    result = standing("alice", records, settings=SETTINGS, now=later)
    due = {row.requirement.id for row in result.missing()}
    assert SHADOW_ID not in due
    assert QUIZ_ID in due
    assert len(due) == len(REQUIRED) - 1
    assert {row.status for row in result.missing()} == {Status.EXPIRED}
    assert not result.certified


def test_a_later_fail_keeps_the_pass_and_shows_as_the_last_attempt() -> None:
    passed = record(QUIZ_ID, kind=RecordKind.QUIZ, variant="seed-1")
    failed = record(QUIZ_ID, day=5, kind=RecordKind.QUIZ, verdict=Verdict.FAIL)
    result = standing("alice", [failed, passed], settings=SETTINGS, now=START + timedelta(days=6))
    quiz = next(row for row in result.rows if row.requirement.id == QUIZ_ID)
    assert quiz.status is Status.CERTIFIED
    assert (quiz.passed, quiz.last_attempt) == (passed, failed)
    assert quiz.due_at == START + timedelta(days=90)


def test_passes_outside_the_set_are_listed_latest_first_per_drill() -> None:
    old, new = record("hpa-spike", variant="healthy"), record("hpa-spike", day=3, variant="no-hpa")
    result = standing("alice", [new, old], settings=SETTINGS, now=START + timedelta(days=4))
    assert result.others == (new,)


def test_either_snapshot_restore_variant_counts_for_the_in_place_procedure() -> None:
    """§4.1 names the procedure (`data-loss-inplace`); each catalogued variant practises it."""
    [req] = [r for r in REQUIRED if r.id == "snapshot-restore"]
    assert set(req.variants) == {v.id for v in practical_for("snapshot-restore").variants}
    for variant in req.variants:
        row = standing(
            "alice",
            [record("snapshot-restore", variant=variant)],
            settings=SETTINGS,
            now=START + timedelta(days=1),
        ).rows[REQUIRED.index(req)]
        assert row.status is Status.CERTIFIED
