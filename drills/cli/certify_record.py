"""`drills certify record`: a trainee against the required set of RUNBOOKS.md §4.1.

One row per requirement: met (with the PASS that meets it and when it must be earned again),
due again, or missing (with the last attempt, if any); then passes outside the required set and
any grade.json that could not be read. Exit 0 when every requirement is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from drills.certification.record import GradeRecord, validate_trainee
from drills.certification.records import read_records
from drills.certification.standing import RequirementStanding, Standing, Status, standing
from drills.cli.certify_support import FAILED, CertifyContext
from drills.core.durations import format_duration
from drills.reporting.progress import verdict_style

__all__ = ["record_action", "show_standing"]

_STATUS_STYLE = {
    Status.CERTIFIED: "bold green",
    Status.EXPIRED: "bold yellow",
    Status.MISSING: "bold red",
}


def record_action(args: argparse.Namespace, context: CertifyContext) -> int:
    """Show the trainee's standing; exit 0 only when certified."""
    trainee = validate_trainee(args.trainee)
    found = read_records(context.reports, trainee)
    now = context.clock.wall()
    result = standing(trainee, found.records, settings=context.settings, now=now)
    show_standing(result, context.console, recertify_every_s=context.settings.recertify_every_s)
    for problem in found.unreadable:
        context.console.print(Text.assemble(("ignored:", "yellow"), f" {problem}"))
    return 0 if result.certified else FAILED


def show_standing(result: Standing, console: Console, *, recertify_every_s: float) -> None:
    """The requirement table, passes outside it, and one line saying where the trainee stands."""
    table = Table(
        title=f"certification of {result.trainee} (a PASS counts for "
        f"{format_duration(recertify_every_s)})",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("area", "requirement", "status", "passed", "due", "last attempt"):
        table.add_column(column)
    for row in result.rows:
        table.add_row(*_cells(row))
    console.print(table)
    for record in result.others:
        line = f"also passed: {record.drill_id} {_attempt(record)}"
        console.print(line, markup=False, highlight=False)
    console.print(_summary(result), markup=False, highlight=False)


def _cells(row: RequirementStanding) -> tuple[Text, ...]:
    """Text cells, so nothing a record holds is read as rich markup."""
    status = Text(str(row.status), _STATUS_STYLE[row.status])
    passed = _attempt(row.passed) if row.passed else "-"
    due = _day(row.due_at) if row.due_at else ("-" if row.passed is None else "never")
    plain = (row.requirement.area, row.requirement.label())
    return (*map(Text, plain), status, Text(passed), Text(due), _last(row))


def _last(row: RequirementStanding) -> Text:
    """The latest attempt when it is not the PASS shown (a later FAIL, or no PASS at all)."""
    last = row.last_attempt
    if last is None or last is row.passed:
        return Text("-")
    return Text.assemble((str(last.verdict), verdict_style(last.verdict)), f" {_attempt(last)}")


def _attempt(record: GradeRecord) -> str:
    variant = f" {record.variant}" if record.variant else ""
    return f"{_day(record.recorded_at)}{variant} ({record.run_id})"


def _summary(result: Standing) -> str:
    if result.certified:
        due = result.next_due
        until = f" until {_day(due)}" if due else ""
        return f"{result.trainee} is certified{until}."
    missing = result.missing()
    names = ", ".join(row.requirement.label() for row in missing)
    return (
        f"{result.trainee} is not certified: {len(missing)} of {len(result.rows)} "
        f"requirements missing or due: {names}."
    )


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")
