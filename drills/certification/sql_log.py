"""The PostgreSQL server log of the trainee's role, read into `Action`s with source sql.

The sandbox's `log_line_prefix` is `'%m [%p] %q%u@%d %a '` (drills/sandbox/postgres.py): time
with milliseconds and zone, process id, then for client sessions `user@database` and the
application name (`psql`, `pg_dump`). The trainee's role has `log_statement = 'all'`, so each
statement appears as `LOG:  statement: ...` (simple protocol: psql, pg_dump, pg_restore) or
`LOG:  execute <name>: ...` (extended protocol). A statement that spans lines continues on lines
that start with a tab. An `ERROR`/`FATAL` of the same process before its next statement marks the
statement as failed. Lines of other roles, and lines of a prefix without `user@database` (which
cannot be attributed), are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drills.certification.reading import EvidenceRead
from drills.core.actions import Action, Source

__all__ = ["read_sql_log", "sql_actions"]

_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) (?P<tz>\S+) \[(?P<pid>\d+)\] "
    r"(?:(?P<user>[^@\s]*)@(?P<db>\S*) )?(?P<app>.*?)\s*"
    r"(?P<level>LOG|ERROR|FATAL|PANIC|WARNING|NOTICE|INFO|DETAIL|HINT|CONTEXT|STATEMENT|DEBUG\d?):"
    r"  (?P<message>.*)$"
)
_STATEMENT = re.compile(r"^(?:statement|execute [^:]*): (?P<sql>.*)$", re.DOTALL)
_FAILED = ("ERROR", "FATAL", "PANIC")


def read_sql_log(paths: Sequence[Path], role: str) -> EvidenceRead:
    """The statements of `role` in the server logs at `paths` (a missing log is skipped).

    No log at all is a missing source; logs without a line of `role` mean the trainee ran
    nothing there.
    """
    present = [p for p in paths if p.is_file()]
    if not present:
        shown = ", ".join(str(p) for p in paths)
        return EvidenceRead((), f"no PostgreSQL server log at {shown}")
    actions: list[Action] = []
    skipped = 0
    for path in present:
        with path.open(encoding="utf-8", errors="replace") as lines:
            found, bad = sql_actions(lines, role)
        actions += found
        skipped += bad
    return EvidenceRead(tuple(sorted(actions, key=lambda a: a.at_s)), None, skipped)


def sql_actions(lines: Iterable[str], role: str) -> tuple[list[Action], int]:
    """Parse server log lines; return `role`'s statements and how many lines had a bad time."""
    actions: list[Action] = []
    open_by_pid: dict[str, int] = {}  # pid -> index of its last statement, until it ends
    last: int | None = None  # the statement a tab-continued line belongs to
    skipped = 0
    for raw in lines:
        line = raw.rstrip("\n")
        if line.startswith("\t") and last is not None:
            actions[last] = _continued(actions[last], line[1:])
            continue
        last = None
        match = _LINE.match(line)
        if match is None or match.group("user") != role:
            continue
        pid, level = match.group("pid"), match.group("level")
        if level in _FAILED and pid in open_by_pid:
            index = open_by_pid.pop(pid)
            actions[index] = replace(actions[index], succeeded=False)
            continue
        statement = _STATEMENT.match(match.group("message")) if level == "LOG" else None
        if statement is None:
            continue
        at_s = _epoch(match.group("ts"), match.group("tz"))
        if at_s is None:
            skipped += 1
            continue
        actions.append(_action(at_s, role, match, statement.group("sql")))
        last = open_by_pid[pid] = len(actions) - 1
    return actions, skipped


def _action(at_s: float, role: str, match: re.Match[str], sql: str) -> Action:
    words = sql.split()
    return Action(
        at_s=at_s,
        source=Source.SQL,
        actor=role,
        verb=words[0].lower().rstrip(";") if words else "",
        name=match.group("db") or "",
        text=sql,
        agent=match.group("app"),
        succeeded=True,
        summary=f"{match.group('app') or 'sql'} on {match.group('db')}",
    )


def _continued(action: Action, more: str) -> Action:
    return replace(action, text=f"{action.text}\n{more}")


def _epoch(stamp: str, zone: str) -> float | None:
    tz = _zone(zone)
    if tz is None:
        return None
    return datetime.fromisoformat(stamp).replace(tzinfo=tz).timestamp()


def _zone(name: str) -> tzinfo | None:
    """`UTC`, `GMT`, `+05`, `-0330`, or an IANA name; None when the log's zone is unknown."""
    if name in ("UTC", "GMT", "Z"):
        return UTC
    offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})?", name)
    if offset:
        minutes = int(offset.group(2)) * 60 + int(offset.group(3) or 0)
        sign = -1 if offset.group(1) == "-" else 1
        return timezone(sign * timedelta(minutes=minutes))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
