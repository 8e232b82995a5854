"""Live progress of a run on the terminal: which drill runs, its steps as they finish, verdicts.

A pytest plugin object (it implements the `pytest_drills_*` hooks) that prints through rich.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rich.console import Console
from rich.markup import escape

from drills.core.durations import format_duration
from drills.core.events import DrillStarted, StepStarted
from drills.core.journal import DrillRecord, StepOutcome, StepRecord
from drills.core.objectives import Verdict

__all__ = ["LiveProgress", "verdict_style"]


class _Item(Protocol):
    def get_closest_marker(self, name: str) -> object | None: ...


class _Session(Protocol):
    items: Sequence[_Item]


class _Report(Protocol):
    when: str
    outcome: str


_STEP_MARK = {
    StepOutcome.OK: "[green]✓[/]",
    StepOutcome.FAILED: "[red]✗[/]",
    StepOutcome.ERROR: "[red]![/]",
    StepOutcome.SKIPPED: "[yellow]-[/]",
}


def verdict_style(verdict: Verdict) -> str:
    """The rich style of a verdict."""
    return {
        Verdict.PASS: "bold green",
        Verdict.FAIL: "bold red",
        Verdict.COULD_NOT_VERIFY: "bold yellow",
        Verdict.ERROR: "bold magenta",
    }[verdict]


class LiveProgress:
    """Prints one line per drill start, step end and drill verdict, with a spinner meanwhile."""

    def __init__(self, console: Console, total: int = 0) -> None:
        self.console = console
        self.total = total
        self.done = 0
        self._status = console.status("", spinner="dots")
        self._drill = ""

    def pytest_collection_finish(self, session: _Session) -> None:
        """Count the drills about to run, for the `[n/total]` counter."""
        self.total = sum(1 for item in session.items if item.get_closest_marker("drill"))

    def pytest_report_teststatus(self, report: _Report) -> tuple[str, str, str] | None:
        """Drop pytest's progress letters for test bodies: the drill lines replace them."""
        if report.when == "call" and not hasattr(report, "wasxfail"):
            return report.outcome, "", report.outcome.upper()
        return None

    def pytest_drills_drill_started(self, started: DrillStarted) -> None:
        """Announce the drill and start the spinner."""
        self._drill = started.id
        counter = f"[{self.done + 1}/{self.total}] " if self.total else ""
        self.console.print(
            f"[bold]▶ {counter}{escape(started.id)}[/] "
            f"({escape(started.runbook)}, service {escape(started.service)})"
        )
        self._status.update(f"{started.id}: preparing")
        self._status.start()

    def pytest_drills_step_started(self, step: StepStarted) -> None:
        """Show the running step in the spinner."""
        self._status.update(f"{self._drill}: {step.name}")

    def pytest_drills_step_finished(self, step: StepRecord) -> None:
        """Print the finished step with its outcome and duration."""
        mark = _STEP_MARK.get(step.outcome, "?")
        # Names and details are text from the drill: escape them, `[safety]` is not markup.
        detail = f" [dim]{escape(step.detail)}[/]" if step.detail else ""
        self.console.print(
            f"   {mark} {escape(step.name)} [dim]{format_duration(step.duration_s)}[/]{detail}"
        )

    def pytest_drills_drill_finished(self, record: DrillRecord) -> None:
        """Stop the spinner and print the verdict with each objective."""
        self._status.stop()
        self.done += 1
        style = verdict_style(record.verdict)
        self.console.print(f"■ {record.id} [{style}]{record.verdict}[/]")
        for objective in record.objectives:
            self.console.print(f"   {objective.summary()}", markup=False)

    def close(self) -> None:
        """Stop the spinner if a run ended mid-drill."""
        self._status.stop()
