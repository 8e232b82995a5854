from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.journal import DrillRecord, RunJournal
from drills.core.objectives import ObjectiveKind, ObjectiveResult, Verdict
from drills.reporting.history import load_history, regressions


def _write(reports: Path, run_id: str, started: str, verdict: Verdict, rto_s: float) -> None:
    record = DrillRecord(
        id="pod-kill-under-load",
        runbook="§3.2",
        service="shop",
        severity="P1",
        verdict=verdict,
        reason="",
        started_at=started,
        ended_at=started,
        duration_s=1.0,
        objectives=(ObjectiveResult(ObjectiveKind.RTO, "shop", 900.0, rto_s, verdict),),
    )
    (reports / run_id).mkdir(parents=True)
    (reports / run_id / "journal.json").write_text(
        RunJournal(run_id, "staging", started, (record,)).to_json()
    )


def test_history_orders_runs_and_skips_the_latest_link(tmp_path: Path) -> None:
    _write(tmp_path, "q2", "2026-06-01T00:00:00+00:00", Verdict.PASS, 40.0)
    _write(tmp_path, "q1", "2026-03-01T00:00:00+00:00", Verdict.PASS, 30.0)
    (tmp_path / "latest").symlink_to(tmp_path / "q2")
    rows = load_history(tmp_path)
    assert [(r.run_id, r.rto_s) for r in rows] == [("q1", 30.0), ("q2", 40.0)]
    assert regressions(rows) == []


def test_regressions_flag_a_lost_pass_and_a_slower_recovery(tmp_path: Path) -> None:
    _write(tmp_path, "q1", "2026-03-01T00:00:00+00:00", Verdict.PASS, 30.0)
    _write(tmp_path, "q2", "2026-06-01T00:00:00+00:00", Verdict.PASS, 50.0)
    assert regressions(load_history(tmp_path)) == [
        "pod-kill-under-load: RTO 30.0s in q1 -> 50.0s in q2"
    ]
    _write(tmp_path, "q3", "2026-09-01T00:00:00+00:00", Verdict.FAIL, 1000.0)
    assert regressions(load_history(tmp_path)) == ["pod-kill-under-load: PASS in q2 -> FAIL in q3"]


def test_filter_by_drill_and_unreadable_journal(tmp_path: Path) -> None:
    _write(tmp_path, "q1", "2026-03-01T00:00:00+00:00", Verdict.PASS, 30.0)
    assert load_history(tmp_path, drill="pitr") == []
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "journal.json").write_text("{")
    with pytest.raises(ConfigError, match="move it out"):
        load_history(tmp_path)
