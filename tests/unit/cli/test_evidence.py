"""`drills report` in process: exit codes, messages, the files written."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from drills.cli import main
from drills.cli.evidence import known_runs, report_command
from drills.core.journal import DrillRecord, RunJournal
from drills.core.objectives import ObjectiveKind, ObjectiveResult, Verdict


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, soft_wrap=True), out


def write_run(
    reports: Path, run_id: str, verdict: Verdict, rto_s: float, *, drill: str = "pod-kill"
) -> Path:
    started = f"2026-{run_id[-2:]}-01T00:00:00+00:00"
    record = DrillRecord(
        id=drill,
        runbook="§3.2",
        service="shop",
        severity="P1",
        verdict=verdict,
        reason=f"shop RTO measured {rto_s:g}s",
        started_at=started,
        ended_at=started,
        duration_s=rto_s + 5,
        objectives=(ObjectiveResult(ObjectiveKind.RTO, "shop", 60.0, rto_s, verdict),),
    )
    run_dir = reports / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "journal.json").write_text(
        RunJournal(run_id, "sandbox", started, (record,)).to_json()
    )
    return run_dir


def point_latest(reports: Path, run_id: str) -> None:
    (reports / "latest").symlink_to(run_id)


def test_report_rerenders_the_latest_run_with_its_timeline(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    write_run(reports, "run-03", Verdict.PASS, 12.0)
    run_dir = write_run(reports, "run-04", Verdict.FAIL, 80.0)
    samples = [["replicas ready", float(t), 3.0] for t in range(5)]
    (run_dir / "timeline.json").write_text(json.dumps({"pod-kill": samples}))
    point_latest(reports, "run-04")
    shown, out = console()
    assert report_command(reports, None, shown) == 0
    html = (run_dir / "report.html").read_text()
    assert "run-04" in html
    assert "data:image/png;base64," in html
    assert out.getvalue().strip() == str((reports / "latest" / "report.html").resolve())


def test_report_of_a_named_run(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    run_dir = write_run(reports, "run-03", Verdict.PASS, 12.0)
    shown, out = console()
    assert report_command(reports, "run-03", shown) == 0
    assert (run_dir / "report.html").exists()
    assert "No timeline samples were recorded" in (run_dir / "report.html").read_text()
    assert str(run_dir.resolve() / "report.html") in out.getvalue()


def test_report_of_a_missing_run_lists_the_runs_there_are(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    write_run(reports, "run-03", Verdict.PASS, 12.0)
    write_run(reports, "run-04", Verdict.PASS, 12.0)
    point_latest(reports, "run-04")
    shown, out = console()
    assert report_command(reports, "run-09", shown) == 2
    text = out.getvalue()
    assert "no run 'run-09'" in text
    assert "Runs in" in text
    assert "run-03, run-04" in text
    assert known_runs(reports) == ["run-03", "run-04"]


def test_report_without_any_run_says_how_to_make_one(tmp_path: Path) -> None:
    shown, out = console()
    assert report_command(tmp_path / "reports", None, shown) == 2
    assert "no run 'latest'" in out.getvalue()
    assert "`drills run` makes one" in out.getvalue()


def test_report_of_an_unreadable_journal_is_a_clear_error(tmp_path: Path) -> None:
    run_dir = tmp_path / "reports" / "run-01"
    run_dir.mkdir(parents=True)
    (run_dir / "journal.json").write_text("{}")
    shown, out = console()
    assert report_command(tmp_path / "reports", "run-01", shown) == 2
    assert "cannot be read" in out.getvalue()


def test_commands_are_wired_into_the_cli(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path / "reports", "run-03", Verdict.PASS, 12.0)
    assert main(["--root", str(tmp_path), "report", "run-03"]) == 0
    assert main(["--root", str(tmp_path), "report", "run-04"]) == 2
    text = capfd.readouterr().out
    assert "no run 'run-04'" in text


def test_report_keeps_showing_what_the_run_noted_as_incomplete(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "reports", "run-03", Verdict.PASS, 12.0)
    (run_dir / "report-incomplete.txt").write_text(
        "The evidence of this run is incomplete:\n- timeline plot of pod-kill: OSError: disk full\n"
    )
    shown, _ = console()
    assert report_command(tmp_path / "reports", "run-03", shown) == 0
    html = (run_dir / "report.html").read_text()
    assert "This report is incomplete" in html
    assert "timeline plot of pod-kill: OSError: disk full" in html
