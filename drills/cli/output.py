"""Terminal output of the CLI: a rich console that bypasses pytest's output capture."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from drills.core.durations import format_duration
from drills.core.journal import RunJournal
from drills.core.objectives import ObjectiveKind, ObjectiveResult, Verdict
from drills.reporting.progress import verdict_style

__all__ = ["terminal_console", "verdict_table"]


def terminal_console() -> Console:
    """A console on a duplicate of stdout's descriptor, so pytest's capture cannot hide it."""
    try:
        fd = os.dup(sys.stdout.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):
        return Console(soft_wrap=True)
    return Console(file=os.fdopen(fd, "w", buffering=1, encoding="utf-8"), soft_wrap=True)


def verdict_table(journal: RunJournal) -> Group:
    """One row per drill (verdict, RTO and RPO measured vs target), then why each one failed.

    The reasons go below the table, one line each, so they are never cut off on an
    80-column terminal or CI log.
    """
    table = Table(
        title=f"run {journal.run_id} on {journal.environment}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in ("drill", "runbook", "verdict", "RTO meas. / target", "RPO meas. / target"):
        table.add_column(column, no_wrap=True)
    reasons = []
    for record in journal.scenarios:
        style = verdict_style(record.verdict)
        table.add_row(
            record.id,
            record.runbook.removeprefix("RUNBOOKS.md "),
            f"[{style}]{record.verdict}[/]",
            *(_pair(record.objectives, kind) for kind in (ObjectiveKind.RTO, ObjectiveKind.RPO)),
        )
        if record.verdict is not Verdict.PASS:
            reasons.append(Text.assemble((f"{record.id}: ", style), record.reason))
    return Group(table, *reasons)


def _pair(objectives: Sequence[ObjectiveResult], kind: ObjectiveKind) -> str:
    result = next((o for o in objectives if o.name is kind), None)
    if result is None:
        return "-"
    return f"{format_duration(result.measured_s)} / {format_duration(result.target_s)}"
