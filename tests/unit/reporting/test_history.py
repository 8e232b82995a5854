"""Figures read back from journals: one RunFigures per drill of a run."""

from dataclasses import replace
from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.journal import RunJournal
from drills.core.objectives import ObjectiveKind, ObjectiveResult, Verdict
from drills.core.trend import RunFigures
from drills.reporting.history import journal_figures, journal_paths, read_journal
from tests.unit.reporting.history_runs import drill_record, write_journal, write_run


def test_a_journal_gives_each_drill_with_figures_targets_and_provenance(tmp_path: Path) -> None:
    records = (
        drill_record("pod-kill", Verdict.PASS, rto_s=40.0, rpo_s=0.0),
        drill_record("pitr", Verdict.COULD_NOT_VERIFY, rto_s=None, rpo_s=None),
    )
    path = write_journal(tmp_path, "q2", "2026-06-01T00:00:00+00:00", records, ticket="CHG-7")
    figures = journal_figures(read_journal(path))
    assert figures[0] == RunFigures(
        environment="staging",
        drill="pod-kill",
        run_id="q2",
        started_at="2026-06-01T00:00:00+00:00",
        verdict=Verdict.PASS,
        operator="alice",
        ticket="CHG-7",
        rto_s=40.0,
        rto_target_s=60.0,
        rpo_s=0.0,
        rpo_target_s=30.0,
    )
    assert (figures[1].drill, figures[1].rto_s, figures[1].rto_target_s) == ("pitr", None, 60.0)


def test_the_drills_own_service_wins_and_a_missing_objective_is_none() -> None:
    record = drill_record("pod-kill", Verdict.PASS, rto_s=40.0)
    other = ObjectiveResult(ObjectiveKind.RTO, "database", 300.0, 5.0, Verdict.PASS)
    record = replace(record, objectives=(other, record.objectives[0]))
    figures = journal_figures(RunJournal("r", "sandbox", "2026", (record,)))[0]
    assert (figures.rto_s, figures.rto_target_s) == (40.0, 60.0)
    assert (figures.rpo_s, figures.rpo_target_s) == (None, None)


def test_journal_paths_skip_the_latest_link(tmp_path: Path) -> None:
    write_run(tmp_path, "q2", month=6, rto_s=40.0)
    write_run(tmp_path, "q1", month=3, rto_s=30.0)
    (tmp_path / "latest").symlink_to(tmp_path / "q2")
    assert [p.parent.name for p in journal_paths(tmp_path)] == ["q1", "q2"]
    assert journal_paths(tmp_path / "missing") == []


def test_an_unreadable_journal_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "journal.json").write_text("{")
    with pytest.raises(ConfigError, match="move it out"):
        read_journal(tmp_path / "broken" / "journal.json")
