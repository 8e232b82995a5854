"""reports/history.sqlite: built from journals, kept in step, rebuilt when corrupt."""

import os
import sqlite3
from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.objectives import Verdict
from drills.reporting.history_store import STORE_NAME, load_history
from tests.unit.reporting.history_runs import write_run


def _rows(reports: Path) -> list[tuple[str, str, float | None]]:
    return [(r.environment, r.run_id, r.rto_s) for r in load_history(reports)]


def test_a_missing_store_is_built_from_the_journals(tmp_path: Path) -> None:
    write_run(tmp_path, "q2", month=6, rto_s=40.0)
    write_run(tmp_path, "q1", month=3, rto_s=30.0, operator="bob")
    (tmp_path / "latest").symlink_to(tmp_path / "q2")
    runs = load_history(tmp_path)
    assert [(r.run_id, r.rto_s, r.operator) for r in runs] == [
        ("q1", 30.0, "bob"),
        ("q2", 40.0, "alice"),
    ]
    assert (tmp_path / STORE_NAME).is_file()
    with sqlite3.connect(tmp_path / STORE_NAME) as db:
        assert db.execute("SELECT count(*) FROM figures").fetchone() == (2,)


def test_syncing_again_changes_nothing(tmp_path: Path) -> None:
    write_run(tmp_path, "q1", month=3, rto_s=30.0)
    first = load_history(tmp_path)
    stamp = (tmp_path / STORE_NAME).stat().st_mtime_ns
    assert load_history(tmp_path) == first
    assert (tmp_path / STORE_NAME).stat().st_mtime_ns == stamp  # nothing was written


def test_a_new_or_changed_journal_is_read_and_a_pruned_run_is_kept(tmp_path: Path) -> None:
    write_run(tmp_path, "q1", month=3, rto_s=30.0)
    assert _rows(tmp_path) == [("staging", "q1", 30.0)]
    write_run(tmp_path, "q2", month=6, rto_s=40.0)
    path = write_run(tmp_path, "q1", month=3, rto_s=33.0)
    os.utime(path, ns=(1, 1))  # a changed mtime is enough to read it again
    assert _rows(tmp_path) == [("staging", "q1", 33.0), ("staging", "q2", 40.0)]
    path.unlink()
    assert _rows(tmp_path) == [("staging", "q1", 33.0), ("staging", "q2", 40.0)]


def test_a_corrupt_store_is_rebuilt_not_fatal(tmp_path: Path) -> None:
    write_run(tmp_path, "q1", month=3, rto_s=30.0)
    (tmp_path / STORE_NAME).write_bytes(b"this is not a database" * 100)
    assert _rows(tmp_path) == [("staging", "q1", 30.0)]
    with sqlite3.connect(tmp_path / STORE_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_store_of_another_schema_is_rebuilt(tmp_path: Path) -> None:
    write_run(tmp_path, "q1", month=3, rto_s=30.0)
    with sqlite3.connect(tmp_path / STORE_NAME) as db:
        db.execute("CREATE TABLE figures (x)")
    assert _rows(tmp_path) == [("staging", "q1", 30.0)]


def test_runs_of_two_environments_are_kept_apart(tmp_path: Path) -> None:
    write_run(tmp_path, "s1", month=1, rto_s=10.0, environment="sandbox")
    write_run(tmp_path, "p1", month=2, rto_s=400.0, environment="staging")
    write_run(tmp_path, "s2", month=3, rto_s=12.0, environment="sandbox", drill="pitr")
    assert _rows(tmp_path) == [
        ("sandbox", "s1", 10.0),
        ("staging", "p1", 400.0),
        ("sandbox", "s2", 12.0),
    ]
    sandbox = load_history(tmp_path, environment="sandbox")
    assert [r.run_id for r in sandbox] == ["s1", "s2"]
    assert [r.run_id for r in load_history(tmp_path, environment="sandbox", drill="pitr")] == ["s2"]


def test_unmeasured_figures_stay_unmeasured(tmp_path: Path) -> None:
    write_run(tmp_path, "q1", month=3, rto_s=None, rpo_s=None, verdict=Verdict.COULD_NOT_VERIFY)
    (run,) = load_history(tmp_path)
    assert (run.verdict, run.rto_s, run.rpo_s, run.rto_target_s) == (
        Verdict.COULD_NOT_VERIFY,
        None,
        None,
        60.0,
    )


def test_an_unreadable_journal_names_itself_and_leaves_the_store_as_it_was(
    tmp_path: Path,
) -> None:
    write_run(tmp_path, "q1", month=3, rto_s=30.0)
    assert len(load_history(tmp_path)) == 1
    (tmp_path / "q2").mkdir()
    (tmp_path / "q2" / "journal.json").write_text("{")
    with pytest.raises(ConfigError, match=r"q2/journal.json is not a readable journal"):
        load_history(tmp_path)
    (tmp_path / "q2" / "journal.json").unlink()
    assert len(load_history(tmp_path)) == 1


def test_without_a_reports_directory_nothing_is_written(tmp_path: Path) -> None:
    assert load_history(tmp_path / "reports") == []
    assert not (tmp_path / "reports").exists()
