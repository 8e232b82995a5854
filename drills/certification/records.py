"""Where certification records live: `reports/certification/<trainee>/<run-id>/`.

Every quiz, practical and sign-off writes one directory with grade.json (the record) and
grade.html (the page a person reads). The proctor of a practical calls the same function:

    run_dir = write_record(paths.reports, GradeRecord(
        trainee="alice", kind=RecordKind.PRACTICAL, drill_id="crashloop-rollback",
        variant="bad-image", verdict=grade.verdict, recorded_at=clock.wall(),
        environment="sandbox", payload={"criteria": [...], "timeline": [...]}))
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import UTC
from pathlib import Path

from drills.certification.errors import CertificationError
from drills.certification.grade_page import render_grade_page
from drills.certification.record import GradeRecord, validate_trainee

__all__ = [
    "GRADE_HTML",
    "GRADE_JSON",
    "TraineeRecords",
    "read_records",
    "trainee_dir",
    "write_record",
]

GRADE_JSON = "grade.json"
GRADE_HTML = "grade.html"
_MAX_SAME_SECOND = 100  # attempts recorded in one second before we give up naming them


def trainee_dir(reports_dir: Path, trainee: str) -> Path:
    """The directory of one trainee's records (the name is validated first)."""
    return reports_dir / "certification" / validate_trainee(trainee)


def write_record(reports_dir: Path, record: GradeRecord) -> Path:
    """Write `record` as grade.json and grade.html in a new run directory; return the directory.

    The run id is the record's UTC time and drill id (`20260101T120000Z-pitr`), with `-2`, `-3`
    ... when one second holds several. grade.json is written whole or not at all. Raises
    CertificationError when the directory cannot be created.
    """
    run_dir = _new_run_dir(trainee_dir(reports_dir, record.trainee), record)
    stored = replace(record, run_id=run_dir.name)
    document = json.dumps(stored.to_json(), indent=2, ensure_ascii=False) + "\n"
    _write_atomically(run_dir / GRADE_JSON, document)
    _write_atomically(run_dir / GRADE_HTML, render_grade_page(stored))
    return run_dir


@dataclass(frozen=True)
class TraineeRecords:
    """A trainee's readable records, oldest first, and the grade.json files not readable."""

    trainee: str
    records: tuple[GradeRecord, ...]
    unreadable: tuple[str, ...] = ()


def read_records(reports_dir: Path, trainee: str) -> TraineeRecords:
    """Every record of `trainee` (none yet is an empty result, not an error)."""
    base = trainee_dir(reports_dir, trainee)
    records: list[GradeRecord] = []
    unreadable: list[str] = []
    for path in sorted(base.glob(f"*/{GRADE_JSON}")):
        try:
            record = GradeRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, CertificationError) as exc:
            unreadable.append(f"{path}: {exc}")
            continue
        if record.trainee != trainee:
            unreadable.append(f"{path}: holds trainee {record.trainee!r}, not {trainee!r}")
            continue
        records.append(record)
    records.sort(key=lambda r: (r.recorded_at, r.run_id))
    return TraineeRecords(trainee, tuple(records), tuple(unreadable))


def _new_run_dir(base: Path, record: GradeRecord) -> Path:
    stamp = record.recorded_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{stamp}-{record.drill_id}"
    base.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, _MAX_SAME_SECOND + 1):
        candidate = base / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise CertificationError(
        f"{base}: {_MAX_SAME_SECOND} records of {record.drill_id} in one second; "
        "this looks like a loop, not a trainee: stop it and try again"
    )


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
