"""`drills report`: re-render report.html of a run (`drills history` is `drills.cli.history`)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from drills.core.journal import RunJournal
from drills.reporting.evidence import INCOMPLETE_NAME, REPORT_NAME, TIMELINE_NAME
from drills.reporting.html import render_report
from drills.reporting.timeline import load_timelines

__all__ = ["known_runs", "report_command"]

USAGE = 2
LATEST = "latest"


def known_runs(reports: Path) -> list[str]:
    """Run ids under `reports` that hold a journal.json, oldest name first (not `latest`)."""
    if not reports.is_dir():
        return []
    return sorted(
        p.parent.name for p in reports.glob("*/journal.json") if not p.parent.is_symlink()
    )


def report_command(reports: Path, run_id: str | None, console: Console) -> int:
    """Re-render report.html of one run (default reports/latest) and print its path."""
    run_dir = reports / (run_id or LATEST)
    journal_path = run_dir / "journal.json"
    if not journal_path.is_file():
        console.print(f"[red]error:[/] no run {run_id or LATEST!r}: {journal_path} does not exist")
        console.print(_runs_hint(reports))
        return USAGE
    try:
        journal = RunJournal.from_json(journal_path.read_text(encoding="utf-8"))
        timelines = load_timelines(run_dir / TIMELINE_NAME)
    except (ValueError, KeyError) as exc:
        console.print(f"[red]error:[/] {journal_path} cannot be read ({exc}); was it edited?")
        return USAGE
    problems = _recorded_problems(run_dir / INCOMPLETE_NAME)
    out = render_report(journal, timelines, run_dir.resolve() / REPORT_NAME, problems=problems)
    console.print(str(out), markup=False, highlight=False)
    return 0


def _recorded_problems(path: Path) -> list[str]:
    """The reporter failures the run noted, so a re-rendered page still shows them."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line[2:] for line in lines if line.startswith("- ")]


def _runs_hint(reports: Path) -> str:
    runs = known_runs(reports)
    if not runs:
        return f"No run has left evidence in {reports} yet; `drills run` makes one."
    return f"Runs in {reports}: " + ", ".join(runs)
