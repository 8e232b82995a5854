"""The timeline of a trainee's post-mortem, read from plain text.

The entries are those of 002_32e8cf954c1de182.txt § Major Incident Template: detected,
investigation started, root cause identified, fix applied, service restored. One entry per line,
a time and the entry's name in any order, e.g.::

    - 14:02:10 detected
    - 2026-12-04T14:05:00Z investigation started
    - +07:30 root cause identified
    - fix applied: 14:11
    - 14:13:40 UTC service restored

Times are ISO 8601 with a zone (`2026-12-04T14:05:00Z`, `...+06:00`), a clock time `HH:MM` or
`HH:MM:SS` (read in the grading policy's zone, on the day that puts it nearest the injection;
a trailing `UTC`/`Z` is accepted), or an offset from injection `+MM:SS`, `+H:MM:SS`, `T+MM:SS`.
Short names are accepted too: `detection`, `investigating`, `root cause`, `fix`/`fixed`,
`restored`. The first line naming an entry wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

__all__ = ["TimelineEntry", "TimelineParse", "parse_timeline"]


class TimelineEntry(StrEnum):
    """The post-mortem timeline's entries, in incident order."""

    DETECTED = "detected"
    INVESTIGATION_STARTED = "investigation started"
    ROOT_CAUSE_IDENTIFIED = "root cause identified"
    FIX_APPLIED = "fix applied"
    SERVICE_RESTORED = "service restored"


# Longest phrases first, so `root cause identified` is not read as a bare `fix`.
_PHRASES: tuple[tuple[str, TimelineEntry], ...] = (
    ("investigation started", TimelineEntry.INVESTIGATION_STARTED),
    ("root cause identified", TimelineEntry.ROOT_CAUSE_IDENTIFIED),
    ("service restored", TimelineEntry.SERVICE_RESTORED),
    ("fix applied", TimelineEntry.FIX_APPLIED),
    ("investigating", TimelineEntry.INVESTIGATION_STARTED),
    ("investigation", TimelineEntry.INVESTIGATION_STARTED),
    ("root cause", TimelineEntry.ROOT_CAUSE_IDENTIFIED),
    ("detected", TimelineEntry.DETECTED),
    ("detection", TimelineEntry.DETECTED),
    ("restored", TimelineEntry.SERVICE_RESTORED),
    ("fixed", TimelineEntry.FIX_APPLIED),
    ("fix", TimelineEntry.FIX_APPLIED),
)
_ISO = r"(?P<iso>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}))"
_OFFSET = r"(?P<offset>(?<![\w:])T?\+(?:(?P<oh>\d+):)?(?P<om>\d{1,3}):(?P<os>\d{2})(?![\d:]))"
_CLOCK = r"(?P<clock>(?<![\w:+-])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?(?![\d:]))"
_TIME = re.compile(f"{_ISO}|{_OFFSET}|{_CLOCK}")


@dataclass(frozen=True)
class TimelineParse:
    """Entries found (epoch seconds) and lines that name an entry but carry no time."""

    times: Mapping[TimelineEntry, float]
    untimed: tuple[str, ...]


def parse_timeline(text: str, *, injected_at_s: float, tz: tzinfo) -> TimelineParse:
    """Read the timeline entries of a post-mortem; unknown lines are ignored."""
    times: dict[TimelineEntry, float] = {}
    untimed: list[str] = []
    for line in text.splitlines():
        entry = _entry(line)
        if entry is None or entry in times:
            continue
        at_s = _time(line, injected_at_s, tz)
        if at_s is None:
            untimed.append(line.strip())
        else:
            times[entry] = at_s
    return TimelineParse(times, tuple(untimed))


def _entry(line: str) -> TimelineEntry | None:
    words = " ".join(re.sub(r"[^a-z ]", " ", _TIME.sub(" ", line.lower())).split())
    for phrase, entry in _PHRASES:
        if re.search(rf"\b{phrase}\b", words):
            return entry
    return None


def _time(line: str, injected_at_s: float, tz: tzinfo) -> float | None:
    match = _TIME.search(line)
    if match is None:
        return None
    if match.group("iso"):
        return datetime.fromisoformat(match.group("iso").replace("Z", "+00:00")).timestamp()
    if match.group("offset"):
        hours, minutes = int(match.group("oh") or 0), int(match.group("om"))
        return injected_at_s + hours * 3600 + minutes * 60 + int(match.group("os"))
    return _clock(match, injected_at_s, tz)


def _clock(match: re.Match[str], injected_at_s: float, tz: tzinfo) -> float:
    """A clock time on the day (before, of or after the injection) nearest the injection."""
    day = datetime.fromtimestamp(injected_at_s, tz).replace(
        hour=int(match.group("h")), minute=int(match.group("m")), second=int(match.group("s") or 0)
    )
    candidates = [(day + timedelta(days=d)).timestamp() for d in (-1, 0, 1)]
    return min(candidates, key=lambda at: abs(at - injected_at_s))
