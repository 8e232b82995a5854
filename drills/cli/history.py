"""`drills history`: RTO/RPO per run per drill, the regression gate, and the trend page.

The figures come from reports/history.sqlite, brought up to date from the journals first. Each
drill's latest run is compared with the median of its previous `[history] window` runs of the
same environment (`drills.core.trend`); the window and growth thresholds come from the profile
named like the environment, or the defaults when there is no such profile.
Exit codes: 0 no regression (also when there are no runs yet); 1 a regression, each named;
2 an unreadable journal or an invalid profile.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from drills.cli.paths import ProjectPaths
from drills.core.clock import SystemClock
from drills.core.durations import format_duration
from drills.core.errors import ConfigError
from drills.core.profile import load_profile
from drills.core.trend import DEFAULT_HISTORY, HistorySettings, RunFigures, Trend, judge_all
from drills.reporting.history_html import HISTORY_PAGE_NAME, render_history
from drills.reporting.history_store import load_history
from drills.reporting.progress import verdict_style

__all__ = ["add_history_parser", "history_command"]

USAGE = 2
REGRESSED = 1


def add_history_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`drills history [--drill ID] [--env NAME] [--reports-dir DIR] [--html [PATH]]`."""
    history = commands.add_parser(
        "history",
        help="RTO/RPO per run per drill; exit 1 when a latest run regressed against its median",
    )
    history.add_argument("--drill", metavar="ID", help="only this drill id")
    history.add_argument(
        "--env", metavar="NAME", help="only runs of this environment (profile name)"
    )
    history.add_argument("--reports-dir", type=Path, help="where runs are (default reports/)")
    history.add_argument(
        "--html",
        nargs="?",
        const=True,  # --html alone: the default page
        type=Path,
        metavar="PATH",
        help=f"also write the trend page (default REPORTS_DIR/{HISTORY_PAGE_NAME})",
    )


def history_command(args: argparse.Namespace, paths: ProjectPaths, console: Console) -> int:
    """Print the history and the gate's findings; write the page with --html. See module doc."""
    reports: Path = args.reports_dir or paths.reports
    try:
        runs = load_history(reports, drill=args.drill, environment=args.env)
        settings = _settings_of({r.environment for r in runs}, paths.profiles)
    except ConfigError as exc:
        console.print(f"[red]error:[/] {exc}", markup=False)
        return USAGE
    if not runs:
        return _nothing(reports, args.drill, args.env, console)
    console.print(history_table(runs))
    trends = judge_all(runs, lambda env: settings[env][0])
    for environment, (chosen, source) in sorted(settings.items()):
        console.print(_gate_line(environment, chosen, source), markup=False, highlight=False)
    if args.html is not None:
        page = reports / HISTORY_PAGE_NAME if args.html is True else args.html
        out = render_history(
            runs,
            trends,
            page,
            settings={env: chosen for env, (chosen, _) in settings.items()},
            generated_at=SystemClock().wall().strftime("%Y-%m-%d %H:%M UTC"),
        )
        console.print(f"trend page: {out.resolve()}", markup=False, highlight=False)
    return _verdict(trends, console)


def _settings_of(environments: set[str], profiles: Path) -> dict[str, tuple[HistorySettings, str]]:
    """Per environment: its profile's [history] and where it came from (or the defaults)."""
    found = {}
    for name in environments:
        path = profiles / f"{name}.toml"
        if path.is_file():
            found[name] = (load_profile(path).history, f"{path} [history]")
        else:
            found[name] = (DEFAULT_HISTORY, f"defaults: no profile {path}")
    return found


def _gate_line(environment: str, settings: HistorySettings, source: str) -> str:
    return (
        f"gate {environment}: latest run vs the median of up to {settings.window} previous "
        f"run(s); RTO +{settings.rto_growth:.0%}, RPO +{settings.rpo_growth:.0%} ({source})"
    )


def _verdict(trends: list[Trend], console: Console) -> int:
    for note in (n for t in trends for n in t.notes):
        console.print(f"  note: {note}", markup=False, highlight=False, style="dim")
    found = [r for t in trends for r in t.regressions]
    if not found:
        console.print("[green]no regression[/] (each drill's latest run vs its median, per env)")
        return 0
    console.print(f"[bold red]{len(found)} regression(s):[/]")
    for line in found:
        console.print(f"  {line}", markup=False, highlight=False)
    return REGRESSED


def _nothing(reports: Path, drill: str | None, env: str | None, console: Console) -> int:
    which = "".join(
        [f" of drill {drill!r}" if drill else "", f" in environment {env!r}" if env else ""]
    )
    console.print(f"No runs{which} in {reports} yet; `drills run` writes one per run.")
    if drill or env:
        everything = load_history(reports)
        if everything:
            known = sorted({r.run_id for r in everything})
            environments = sorted({r.environment for r in everything})
            console.print(f"Runs in {reports}: " + ", ".join(known))
            console.print("Environments: " + ", ".join(environments))
    return 0


def history_table(runs: list[RunFigures]) -> Table:
    """One line per drill per run, oldest first."""
    table = Table(title=f"RTO/RPO history ({len(runs)} drill run(s))")
    # Ids and verdicts never wrap; the rest folds on narrow terminals rather than hiding text.
    for column in ("drill", "verdict", "RTO", "RPO"):
        table.add_column(column, no_wrap=True)
    for column in ("run", "started", "env", "operator"):
        table.add_column(column, overflow="fold")
    for run in runs:
        style = verdict_style(run.verdict)
        table.add_row(
            run.drill,
            f"[{style}]{run.verdict}[/]",
            _seconds(run.rto_s),
            _seconds(run.rpo_s),
            run.run_id,
            run.started_at[:16].replace("T", " "),
            run.environment,
            run.operator or "-",
        )
    return table


def _seconds(value: float | None) -> str:
    return "-" if value is None else format_duration(value)
