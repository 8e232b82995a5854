"""What every `drills certify` action gets: where records go, the console, the clock, settings."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from rich.console import Console

from drills.certification.record import TRAINEE_PATTERN
from drills.certification.settings import CertificationSettings
from drills.cli.paths import ProjectPaths
from drills.core.clock import DrillClock

__all__ = ["FAILED", "USAGE", "CertifyContext", "add_trainee_argument", "reports_dir_options"]

FAILED = 1
USAGE = 2


@dataclass(frozen=True)
class CertifyContext:
    """The composition root of one certify action: no action builds its own clock or console."""

    reports: Path
    console: Console
    clock: DrillClock
    settings: CertificationSettings
    stdin: TextIO
    paths: ProjectPaths


def add_trainee_argument(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """`--trainee NAME`, with the allowed pattern in its help."""
    parser.add_argument(
        "--trainee",
        required=required,
        metavar="NAME",
        help=f"the trainee (lower case: {TRAINEE_PATTERN.pattern})",
    )


def reports_dir_options() -> argparse.ArgumentParser:
    """A parent parser with `--reports-dir DIR`, for every action that reads or writes records."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--reports-dir", type=Path, help="where records go (default reports/ under the root)"
    )
    return options
