"""Journals for history tests: one drill per run, written the way a run writes them."""

from __future__ import annotations

from pathlib import Path

from drills.core.journal import DrillRecord, RunJournal
from drills.core.objectives import ObjectiveKind, ObjectiveResult, Verdict
from drills.core.provenance import RunProvenance


def drill_record(
    drill: str,
    verdict: Verdict,
    *,
    rto_s: float | None,
    rpo_s: float | None = None,
    started: str = "2026-03-01T00:00:00+00:00",
) -> DrillRecord:
    """A drill of service `shop` judged against RTO 60s and RPO 30s."""
    objectives = [ObjectiveResult(ObjectiveKind.RTO, "shop", 60.0, rto_s, verdict)]
    objectives.append(ObjectiveResult(ObjectiveKind.RPO, "shop", 30.0, rpo_s, verdict))
    return DrillRecord(
        id=drill,
        runbook="§3.2",
        service="shop",
        severity="P1",
        verdict=verdict,
        reason="",
        started_at=started,
        ended_at=started,
        duration_s=1.0,
        objectives=tuple(objectives),
    )


def write_journal(
    reports: Path,
    run_id: str,
    started: str,
    records: tuple[DrillRecord, ...],
    *,
    environment: str = "staging",
    operator: str = "alice",
    ticket: str = "",
) -> Path:
    """Write reports/<run_id>/journal.json and return its path."""
    journal = RunJournal(
        run_id,
        environment,
        started,
        records,
        provenance=RunProvenance(operator=operator, ticket=ticket),
    )
    run_dir = reports / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "journal.json"
    path.write_text(journal.to_json(), encoding="utf-8")
    return path


def write_run(
    reports: Path,
    run_id: str,
    *,
    month: int,
    rto_s: float | None,
    rpo_s: float | None = 0.0,
    verdict: Verdict = Verdict.PASS,
    drill: str = "pod-kill-under-load",
    environment: str = "staging",
    operator: str = "alice",
) -> Path:
    """One run of one drill, started on the first of `month` 2026."""
    started = f"2026-{month:02d}-01T00:00:00+00:00"
    record = drill_record(drill, verdict, rto_s=rto_s, rpo_s=rpo_s, started=started)
    return write_journal(
        reports, run_id, started, (record,), environment=environment, operator=operator
    )
