"""Terminal output of the CLI: a rich console that bypasses pytest's output capture."""

from __future__ import annotations

import io
import os
import sys

from rich.console import Console
from rich.table import Table

from drills.core.durations import format_duration
from drills.core.journal import RunJournal
from drills.core.objectives import ObjectiveKind, Verdict
from drills.reporting.progress import verdict_style

__all__ = ["terminal_console", "verdict_table"]


def terminal_console() -> Console:
    """A console on a duplicate of stdout's descriptor, so pytest's capture cannot hide it."""
    try:
        fd = os.dup(sys.stdout.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):
        return Console(soft_wrap=True)
    return Console(file=os.fdopen(fd, "w", buffering=1, encoding="utf-8"), soft_wrap=True)


def verdict_table(journal: RunJournal) -> Table:
    """One row per drill: verdict, RTO and RPO measured vs target, and why."""
    table = Table(title=f"run {journal.run_id} on {journal.environment}", show_lines=False)
    table.add_column("drill", no_wrap=True)
    table.add_column("runbook", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("RTO meas./target", no_wrap=True)
    table.add_column("RPO meas./target", no_wrap=True)
    table.add_column("why (unless PASS)", overflow="ellipsis", no_wrap=True)
    for record in journal.scenarios:
        pairs = []
        for kind in (ObjectiveKind.RTO, ObjectiveKind.RPO):
            result = next((o for o in record.objectives if o.name is kind), None)
            pairs.append(
                "-"
                if result is None
                else f"{format_duration(result.measured_s)} / {format_duration(result.target_s)}"
            )
        style = verdict_style(record.verdict)
        why = "" if record.verdict is Verdict.PASS else record.reason
        table.add_row(record.id, record.runbook, f"[{style}]{record.verdict}[/]", *pairs, why)
    return table
