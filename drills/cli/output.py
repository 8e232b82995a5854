"""Terminal output of the CLI: a rich console that bypasses pytest's output capture."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO, cast

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from drills.core.durations import format_duration
from drills.core.journal import RunJournal
from drills.core.objectives import ObjectiveKind, ObjectiveResult, Verdict
from drills.core.secrets import redact
from drills.reporting.progress import verdict_style

__all__ = ["RedactingStream", "redacting", "terminal_console", "verdict_table"]


def terminal_console() -> Console:
    """A console on a duplicate of stdout's descriptor, so pytest's capture cannot hide it.

    Whatever it prints passes through the run's redactor (`RedactingStream`).
    """
    try:
        fd = os.dup(sys.stdout.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):
        return Console(file=redacting(sys.stdout), soft_wrap=True)
    stream = os.fdopen(fd, "w", buffering=1, encoding="utf-8")
    return Console(file=redacting(stream), soft_wrap=True)


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


class RedactingStream:
    """A text stream that masks the run's secrets (`drills.core.secrets`) in all it writes.

    Each write is masked on its own: the console and pytest write whole lines, so a secret is
    not split across writes in practice.
    """

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        """Write `text` with its secrets masked; returns len(text) as callers expect."""
        self.inner.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        """Everything else (flush, fileno, isatty, encoding) is the wrapped stream's."""
        return getattr(self.inner, name)


def redacting(stream: TextIO) -> TextIO:
    """`stream` wrapped so that no known secret reaches it (already wrapped: as it is)."""
    if isinstance(stream, RedactingStream):
        return stream
    return cast(TextIO, RedactingStream(stream))
