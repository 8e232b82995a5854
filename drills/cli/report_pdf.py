"""`drills report [RUN_ID] --pdf`: print the run's report.html to reports/<run>/report.pdf.

After `drills report` re-rendered report.html, a headless Chromium prints it (see
`drills.reporting.pdf` for how the browser is found and driven). Exit 2, saying the three ways
to provide a browser, when none is found; exit 2 with the browser's last lines when printing
fails or runs past its time limit.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from drills.cli.evidence import LATEST
from drills.cli.paths import ProjectPaths
from drills.core.errors import ConfigError, DrillError
from drills.reporting.evidence import REPORT_NAME
from drills.reporting.pdf import find_browser, print_pdf

__all__ = ["PDF_NAME", "add_pdf_option", "report_pdf", "with_pdf"]

USAGE = 2
PDF_NAME = "report.pdf"

_Handler = Callable[[argparse.Namespace, ProjectPaths, Console], int]


def add_pdf_option(report: argparse.ArgumentParser) -> None:
    """Add --pdf to the `report` parser."""
    report.add_argument(
        "--pdf",
        action="store_true",
        help="also print report.html to report.pdf with headless Chromium "
        "($DRILLS_CHROMIUM, chromium/google-chrome on PATH, or `make chromium`)",
    )


def with_pdf(handler: _Handler) -> _Handler:
    """Wrap the `report` handler: after it rendered report.html, print it when --pdf was given.

    The exit code is the handler's when it failed (a missing run was reported there), else the
    PDF step's.
    """

    def report(args: argparse.Namespace, paths: ProjectPaths, console: Console) -> int:
        code = handler(args, paths, console)
        if code or not getattr(args, "pdf", False):
            return code
        return report_pdf(paths.reports / (args.run_id or LATEST), console)

    return report


def report_pdf(run_dir: Path, console: Console) -> int:
    """Print `run_dir`/report.html to `run_dir`/report.pdf and print the PDF's path; 0 or 2."""
    html = run_dir.resolve() / REPORT_NAME
    if not html.is_file():
        console.print(f"[red]error:[/] no {escape(str(html))} to print; run `drills report` first")
        return USAGE
    try:
        browser = find_browser()
        out = print_pdf(html, html.with_name(PDF_NAME), browser=browser)
    except ConfigError as exc:
        console.print(f"[red]error:[/] no PDF: {escape(str(exc))}")
        return USAGE
    except DrillError as exc:
        console.print(f"[red]error:[/] no PDF: {browser.path} could not print {html.name}:")
        console.print(str(exc), markup=False, highlight=False)
        return USAGE
    console.print(str(out), markup=False, highlight=False)
    return 0
