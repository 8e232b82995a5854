"""`drills report` (re-render report.html of a run) and `drills history` (RTO/RPO across runs)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from drills.core.durations import format_duration
from drills.core.errors import ConfigError
from drills.core.journal import RunJournal
from drills.reporting.evidence import INCOMPLETE_NAME, REPORT_NAME, TIMELINE_NAME
from drills.reporting.history import HistoryRow, load_history, regressions
from drills.reporting.html import render_report
from drills.reporting.progress import verdict_style
from drills.reporting.timeline import load_timelines

__all__ = ["history_command", "known_runs", "report_command"]

USAGE = 2
REGRESSED = 1
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


def history_command(reports: Path, drill: str | None, console: Console) -> int:
    """Print RTO/RPO/verdict per run per drill and the regressions; 1 if any, else 0."""
    try:
        rows = load_history(reports, drill=drill) if reports.is_dir() else []
    except ConfigError as exc:
        console.print(f"[red]error:[/] {exc}")
        return USAGE
    if not rows:
        which = f" of drill {drill!r}" if drill else ""
        console.print(f"No runs{which} in {reports} yet; `drills run` writes one per run.")
        if drill and known_runs(reports):
            console.print(_runs_hint(reports))
        return 0
    console.print(history_table(rows))
    found = regressions(rows)
    if not found:
        console.print("[green]no regression[/] (latest run of each drill vs the one before)")
        return 0
    console.print(f"[bold red]{len(found)} regression(s):[/]")
    for line in found:
        console.print(f"  {line}", markup=False)
    return REGRESSED


def history_table(rows: list[HistoryRow]) -> Table:
    """One line per drill per run, oldest first."""
    table = Table(title=f"RTO/RPO history ({len(rows)} drill run(s))")
    # Ids and verdicts never wrap; the rest folds on narrow terminals rather than hiding text.
    for column in ("drill", "verdict", "RTO", "RPO"):
        table.add_column(column, no_wrap=True)
    for column in ("run", "started", "env"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = verdict_style(row.verdict)
        table.add_row(
            row.drill,
            f"[{style}]{row.verdict}[/]",
            _seconds(row.rto_s),
            _seconds(row.rpo_s),
            row.run_id,
            row.started_at[:16].replace("T", " "),
            row.environment,
        )
    return table


def _seconds(value: float | None) -> str:
    return "-" if value is None else format_duration(value)
