"""A volume filling up (RUNBOOKS.md §3.15): its thresholds, its files, and what a cleanup may take.

The alert lines are [003]'s (§ Alert Thresholds): disk over 80% is the warning, over 90% the
critical. The safe cleanup is [003] § Issue 7's "remove `*.log` older than 7 days" and "clear
temp files", plus the drill's own ballast; `docker system prune -a --volumes` is never run
(RUNBOOKS.md §5.2). Before the cleanup the drill takes an inventory of every file on the volume
(path, size, mtime, SHA-256 of the small ones) and compares it after: anything gone that the
rule did not allow, or a kept file whose content changed, is named with its age.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from fnmatch import fnmatch
from itertools import pairwise

__all__ = [
    "CRITICAL_USAGE",
    "DAY_S",
    "KEEP_LOGS_DAYS",
    "SMALL_FILE_BYTES",
    "WARNING_USAGE",
    "CleanupRule",
    "CleanupScope",
    "FileEntry",
    "UsageSeries",
    "judge_cleanup",
    "parse_write_errors",
    "removable",
]

WARNING_USAGE = 0.80  # disk > 80%: warning [003] § Alert Thresholds
CRITICAL_USAGE = 0.90  # disk > 90%: critical [003] § Alert Thresholds
KEEP_LOGS_DAYS = 7.0  # `find ... -name "*.log" -mtime +7 -delete` [003] § Issue 7
DAY_S = 86400.0
SMALL_FILE_BYTES = 1 << 20  # files up to 1 MiB get a SHA-256 in the inventory


@dataclass(frozen=True)
class FileEntry:
    """One file of the volume: its path relative to the volume's root, size, mtime, digest."""

    path: str
    size: int
    mtime: float  # wall-clock seconds since the epoch
    sha256: str | None = None  # small files only (SMALL_FILE_BYTES)

    def age_days(self, now_wall: float) -> float:
        """Days since the file was last modified."""
        return (now_wall - self.mtime) / DAY_S

    def describe(self, now_wall: float) -> str:
        """`archive/shop-2026-12-02.log (3.0 days old, 512 KiB)`."""
        return f"{self.path} ({self.age_days(now_wall):.1f} days old, {self.size // 1024} KiB)"


class CleanupRule(Enum):
    """Which `*.log` files the cleanup deletes: the runbook's rule, or the defect's."""

    RUNBOOK = "-mtime +7"  # older than 7 days [003]
    FRESH_LOGS = "-mtime +0"  # the defect: a typo'd age, every log older than a day

    @property
    def min_age_days(self) -> float:
        """The age from which a `*.log` file is deleted."""
        return KEEP_LOGS_DAYS if self is CleanupRule.RUNBOOK else 1.0


@dataclass(frozen=True)
class CleanupScope:
    """Where the volume keeps temp files (a glob relative to its root) and the ballast's path."""

    temp_glob: str
    ballast: str


def removable(
    files: Iterable[FileEntry], *, now_wall: float, rule: CleanupRule, scope: CleanupScope
) -> list[FileEntry]:
    """What the cleanup deletes under `rule`: old `*.log`, the temp files, the ballast."""
    chosen = []
    for entry in files:
        old_log = entry.path.endswith(".log") and entry.age_days(now_wall) > rule.min_age_days
        if old_log or fnmatch(entry.path, scope.temp_glob) or entry.path == scope.ballast:
            chosen.append(entry)
    return chosen


def judge_cleanup(
    before: Sequence[FileEntry],
    after: Mapping[str, FileEntry],
    *,
    now_wall: float,
    scope: CleanupScope,
    live: Iterable[str] = (),
) -> list[str]:
    """Every file the cleanup took or altered that it must keep, named with its age.

    Allowed to go: `*.log` older than KEEP_LOGS_DAYS, temp files, the ballast. Kept files must
    be there with the SHA-256 (small files) or the size and mtime (large ones) they had; `live`
    files (logs the shop is appending to, or that a recovery step truncated on purpose) only
    need to exist.
    """
    rule = CleanupRule.RUNBOOK
    allowed = {e.path for e in removable(before, now_wall=now_wall, rule=rule, scope=scope)}
    growing = set(live)
    wrong = []
    for entry in before:
        now = after.get(entry.path)
        if now is None and entry.path not in allowed:
            wrong.append(f"removed {entry.describe(now_wall)}: {_why_kept(entry, now_wall)}")
        elif now is not None and entry.path not in growing and _altered(entry, now):
            wrong.append(f"altered {entry.describe(now_wall)}: its content changed")
    return wrong


def _why_kept(entry: FileEntry, now_wall: float) -> str:
    if entry.path.endswith(".log"):
        return (
            f"a log younger than {KEEP_LOGS_DAYS:g} days "
            f"({entry.age_days(now_wall):.1f} days), which the runbook keeps"
        )
    return "neither a log older than 7 days, a temp file nor the ballast"


def _altered(before: FileEntry, after: FileEntry) -> bool:
    if before.sha256 is not None:
        return after.sha256 != before.sha256
    return (before.size, before.mtime) != (after.size, after.mtime)


@dataclass
class UsageSeries:
    """Volume usage sampled over time: `(monotonic_s, used share 0..1)`."""

    points: list[tuple[float, float]]  # appended from more than one thread: sort to read

    def _from(self, since_s: float) -> list[tuple[float, float]]:
        return sorted((at, u) for at, u in self.points if at >= since_s)

    def peak(self) -> float | None:
        """The highest share seen (None: no sample)."""
        return max((u for _, u in self.points), default=None)

    def first_above(self, share: float, since_s: float) -> float | None:
        """Monotonic time of the first sample above `share` from `since_s` (None: none)."""
        return next((at for at, u in self._from(since_s) if u > share), None)

    def back_under(self, share: float, since_s: float) -> float | None:
        """The first sample under `share` after the last one at or above it, from `since_s`."""
        later = self._from(since_s)
        last_high = max((i for i, (_, u) in enumerate(later) if u >= share), default=None)
        if last_high is None:
            return None
        rest = later[last_high + 1 :]
        return rest[0][0] if rest else None

    def time_above(self, share: float, since_s: float) -> float:
        """Seconds spent above `share` from `since_s` (each sample holds until the next)."""
        later = self._from(since_s)
        return sum(nxt - at for (at, u), (nxt, _) in pairwise(later) if u > share)


def parse_write_errors(log_text: str) -> int:
    """The shop's count of failed access-log writes in one pod's log (its last report).

    The shop reports `access log write failed (N so far): ...` at most once a second
    (fixtures/shop/app.py); the last such line of a pod carries its total so far.
    """
    count = 0
    marker = "access log write failed ("
    for line in log_text.splitlines():
        start = line.find(marker)
        if start >= 0:
            number = line[start + len(marker) :].split(" ", 1)[0]
            if number.isdigit():
                count = max(count, int(number))
    return count
