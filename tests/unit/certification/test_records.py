"""Records: grade.json and grade.html per attempt, in reports/certification/<trainee>/<run-id>/."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drills.certification.errors import CertificationError
from drills.certification.record import GradeRecord, RecordKind, validate_trainee
from drills.certification.records import read_records, trainee_dir, write_record
from drills.core.objectives import Verdict

AT = datetime(2026, 3, 1, 9, 30, 5, tzinfo=UTC)


def practical(**changes: object) -> GradeRecord:
    fields: dict[str, object] = {
        "trainee": "alice",
        "kind": RecordKind.PRACTICAL,
        "drill_id": "crashloop-rollback",
        "verdict": Verdict.PASS,
        "recorded_at": AT,
        "variant": "bad-image",
        "environment": "sandbox",
        "payload": {
            "summary": "rolled back <fast>",
            "criteria": [
                {
                    "criterion": "steps",
                    "verdict": "PASS",
                    "rule": "every checkpoint seen",
                    "reasons": [],
                    "evidence": ["PATCH deployments/shop"],
                },
            ],
            "ack_s": 42.0,
            "timings": [
                {
                    "checkpoint": "undo",
                    "step": "kubectl rollout undo",
                    "phase": "mitigate",
                    "required": True,
                    "budget_s": 900.0,
                    "seen_s": 312.0,
                    "evidence": "PATCH",
                    "expected": "a rollback",
                },
            ],
            "phases": [{"phase": "resolve", "done_s": None, "budget_s": 3600.0, "how": "probes"}],
            "timeline": [
                {
                    "offset_s": 0.0,
                    "source": "harness",
                    "actor": "drills",
                    "verb": "inject",
                    "what": "bad image",
                    "succeeded": True,
                },
                {
                    "offset_s": 312.0,
                    "source": "kube",
                    "actor": "drills-trainee:alice",
                    "verb": "patch",
                    "what": "kubectl rollout undo deployment/shop",
                    "succeeded": True,
                },
            ],
        },
    }
    fields.update(changes)
    return GradeRecord(**fields)  # type: ignore[arg-type]


def test_a_record_gets_a_run_directory_with_grade_json_and_html(tmp_path: Path) -> None:
    run_dir = write_record(tmp_path, practical())
    assert run_dir == tmp_path / "certification" / "alice" / "20260301T093005Z-crashloop-rollback"
    document = json.loads((run_dir / "grade.json").read_text())
    assert document["run_id"] == run_dir.name
    assert document["kind"] == "practical"
    assert document["verdict"] == "PASS"
    assert document["recorded_at"] == "2026-03-01T09:30:05+00:00"
    assert document["payload"]["timeline"][1]["verb"] == "patch"
    assert sorted(p.name for p in run_dir.iterdir()) == ["grade.html", "grade.json"]


def test_the_page_shows_criteria_timings_and_timeline_escaped(tmp_path: Path) -> None:
    page = (write_record(tmp_path, practical()) / "grade.html").read_text()
    assert "<title>Certification crashloop-rollback: alice PASS</title>" in page
    assert "rolled back &lt;fast&gt;" in page  # payload text is escaped
    assert "every checkpoint seen" in page
    assert "PATCH deployments/shop" in page
    assert "kubectl rollout undo deployment/shop" in page
    assert "+5m12s" in page  # 312 s after the injection
    assert "+15m" in page  # the step's budget
    assert "<script" not in page
    assert "http" not in page.split("<body>")[1]


def test_records_of_one_second_get_distinct_run_ids(tmp_path: Path) -> None:
    names = [write_record(tmp_path, practical()).name for _ in range(3)]
    base = "20260301T093005Z-crashloop-rollback"
    assert names == [base, f"{base}-2", f"{base}-3"]


def test_read_records_returns_them_oldest_first_and_names_unreadable_ones(tmp_path: Path) -> None:
    write_record(tmp_path, practical(recorded_at=AT + timedelta(days=1), verdict=Verdict.FAIL))
    write_record(tmp_path, practical())
    broken = trainee_dir(tmp_path, "alice") / "x" / "grade.json"
    broken.parent.mkdir()
    broken.write_text("{not json")
    found = read_records(tmp_path, "alice")
    assert [r.verdict for r in found.records] == [Verdict.PASS, Verdict.FAIL]
    assert found.records[0] == practical(run_id="20260301T093005Z-crashloop-rollback")
    assert len(found.unreadable) == 1
    assert str(broken) in found.unreadable[0]


def test_a_trainee_without_records_has_none(tmp_path: Path) -> None:
    found = read_records(tmp_path, "bob")
    assert (found.records, found.unreadable) == ((), ())


@pytest.mark.parametrize("name", ["Alice", "al ice", "../etc", "", "a" * 33, "1alice", "al/ice"])
def test_trainee_names_are_validated_with_the_pattern_in_the_error(name: str) -> None:
    with pytest.raises(CertificationError) as raised:
        validate_trainee(name)
    assert "^[a-z][a-z0-9_-]{0,31}$" in str(raised.value)
    with pytest.raises(CertificationError):
        practical(trainee=name)


def test_good_trainee_names_pass() -> None:
    for name in ("alice", "bob-2", "c_d", "a"):
        assert validate_trainee(name) == name


def test_a_record_needs_an_aware_time_and_a_safe_drill_id() -> None:
    with pytest.raises(CertificationError, match="timezone-aware"):
        practical(recorded_at=datetime(2026, 3, 1))  # noqa: DTZ001
    with pytest.raises(CertificationError, match=r"drill id '\.\./x' is not allowed"):
        practical(drill_id="../x")


def test_grade_json_that_is_not_a_record_is_refused() -> None:
    with pytest.raises(CertificationError, match="not a grade record"):
        GradeRecord.from_json({"trainee": "alice", "kind": "exam"})
