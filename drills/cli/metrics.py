"""`--metrics-file` and `--pushgateway` of `drills run` and `drills report`.

The options are checked while the command line is parsed (exit 2 before anything runs). After
a run, a metrics file that cannot be written or a push that fails is reported in red below
the verdicts; the exit code stays the run's when a drill did not pass (1), and is 2 (a
configuration error: the path or the gateway) when every drill passed, so a pipeline that
asked for metrics does not go green without them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.markup import escape

from drills.cli.evidence import LATEST, report_command
from drills.cli.paths import ProjectPaths
from drills.core.journal import RunJournal
from drills.reporting.metrics import push_metrics, write_metrics_file

__all__ = [
    "MetricsTargets",
    "add_metrics_options",
    "metrics_file_path",
    "publish_metrics",
    "pushgateway_url",
    "report_and_export",
]

USAGE = 2


@dataclass(frozen=True)
class MetricsTargets:
    """Where a run's metrics go: a file for the textfile collector, a Pushgateway, or neither."""

    metrics_file: Path | None = None
    pushgateway: str | None = None

    def __bool__(self) -> bool:
        return self.metrics_file is not None or self.pushgateway is not None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> MetricsTargets:
        """The targets given on the command line (none for commands without the options)."""
        return cls(getattr(args, "metrics_file", None), getattr(args, "pushgateway", None))


def metrics_file_path(text: str) -> Path:
    """Argparse type: a file path whose directory exists (the file itself may not)."""
    path = Path(text).expanduser().resolve()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory; give a file, e.g. drills.prom")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(
            f"directory {path.parent} does not exist; create it or choose another path "
            "(the node exporter reads *.prom files from its --collector.textfile.directory)"
        )
    return path


def pushgateway_url(text: str) -> str:
    """Argparse type: an http(s) URL with a host, e.g. http://pushgateway:9091."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http(s) URL with a host, e.g. http://pushgateway:9091"
        )
    return text


def add_metrics_options(parser: argparse.ArgumentParser) -> None:
    """Add --metrics-file and --pushgateway to `parser`."""
    parser.add_argument(
        "--metrics-file",
        type=metrics_file_path,
        metavar="PATH",
        help="write the run's figures as OpenMetrics text (node exporter textfile collector)",
    )
    parser.add_argument(
        "--pushgateway",
        type=pushgateway_url,
        metavar="URL",
        help="push the run's figures to this Prometheus Pushgateway (job drills, env, drill)",
    )


def publish_metrics(
    journal: RunJournal, targets: MetricsTargets, console: Console, code: int
) -> int:
    """Write and/or push the metrics of `journal`; return `code`, or 2 when it was 0 and one failed.

    Both targets are attempted even when the first fails.
    """
    failed = False
    if targets.metrics_file is not None:
        try:
            written = write_metrics_file(journal, targets.metrics_file)
            console.print(f"metrics: {written}", markup=False, highlight=False)
        except OSError as exc:
            failed = True
            where = escape(str(targets.metrics_file))
            console.print(f"[bold red]metrics not written[/] to {where}: {escape(str(exc))}")
    if targets.pushgateway is not None:
        failed = not _push(journal, targets.pushgateway, console) or failed
    if not failed:
        return code
    console.print("[red]the verdicts above stand; only the metrics export failed[/]")
    return code if code != 0 else USAGE


def _push(journal: RunJournal, gateway: str, console: Console) -> bool:
    try:
        pushed = push_metrics(journal, gateway)
    except OSError as exc:
        console.print(
            f"[bold red]metrics not pushed[/] to the Pushgateway at {escape(gateway)}: "
            f"{escape(str(exc))}; is it running, and is the URL right?",
            highlight=False,
        )
        return False
    console.print(f"metrics pushed to {gateway}: {'; '.join(pushed)}", highlight=False)
    return True


def report_and_export(args: argparse.Namespace, paths: ProjectPaths, console: Console) -> int:
    """`drills report [RUN_ID] [--metrics-file PATH] [--pushgateway URL]`.

    Re-renders the run's page, then exports that run's metrics from its journal (only when the
    page could be rendered: a missing or unreadable run is already exit 2).
    """
    code = report_command(paths.reports, args.run_id, console)
    targets = MetricsTargets.from_args(args)
    if not targets or code != 0:
        return code
    journal_path = paths.reports / (args.run_id or LATEST) / "journal.json"
    journal = RunJournal.from_json(journal_path.read_text(encoding="utf-8"))
    return publish_metrics(journal, targets, console, code)
