"""Judging backups (RUNBOOKS.md §3.8 `backup-verification`): pure rules over what was read.

The drill reads the backup's facts through adapters (RDS retention, the objects in the bucket,
the CronJob and its Jobs, a test restore); these functions say what they mean against the
runbook: retention 7 days [000], the newest backup no older than the database RPO unless the
schedule itself rules that out [002], a dump that pg_dump finished, and a retention clean-up
by age that keeps 30 days [002] (the seed's command keeps 30 objects instead, RUNBOOKS §5.2).
Each judge returns the reason of a finding, or None when the rule holds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "DAY_S",
    "DUMP_TRAILER",
    "EXPECTED_RETENTION_DAYS",
    "KEEP_DAYS",
    "SEED_KEEP_COUNT",
    "BackupObject",
    "JobRun",
    "cleanup_by_age",
    "dump_complete",
    "judge_freshness",
    "judge_job_health",
    "judge_retention",
    "newest_first",
    "schedule_gap_s",
    "seed_cleanup",
]

DAY_S = 86400.0
EXPECTED_RETENTION_DAYS = 7  # [000] § Daily Checks: BackupRetentionPeriod, expect 7
KEEP_DAYS = 30  # [002] § Weekly Review: keep 30 days of snapshots
SEED_KEEP_COUNT = 30  # the seed's `... | head -n -30 | xargs rm`: 30 objects, whatever their age
DUMP_TRAILER = b"-- PostgreSQL database dump complete"
"""The last comment pg_dump writes in plain format: absent, the dump was cut short."""


@dataclass(frozen=True)
class BackupObject:
    """One backup in the bucket: its key, age when listed, size."""

    key: str
    age_s: float
    size_bytes: int

    def describe(self) -> str:
        """`key (12.3 s old, 4567 bytes)`."""
        return f"{self.key} ({_age(self.age_s)} old, {self.size_bytes} bytes)"


@dataclass(frozen=True)
class JobRun:
    """One Job of the backup CronJob: how it was started and how it ended."""

    name: str
    scheduled: bool  # created by the CronJob controller (else by hand: create job --from)
    age_s: float
    succeeded: int
    failed: int

    @property
    def finished(self) -> bool:
        """Ended one way or the other."""
        return self.succeeded > 0 or self.failed > 0


def _age(seconds: float) -> str:
    if seconds >= DAY_S:
        return f"{seconds / DAY_S:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def newest_first(backups: Iterable[BackupObject]) -> list[BackupObject]:
    """The backups, youngest first."""
    return sorted(backups, key=lambda b: b.age_s)


def judge_retention(days: int | None, expected: int = EXPECTED_RETENTION_DAYS) -> str | None:
    """Runbook step 1: BackupRetentionPeriod must be `expected` (7 [000])."""
    if days is None:
        return "the database reports no BackupRetentionPeriod"
    if days < expected:
        return (
            f"BackupRetentionPeriod is {days} day(s), below the {expected} the runbook expects "
            "[000]: restores older than that are impossible"
        )
    if days != expected:
        return f"BackupRetentionPeriod is {days} day(s); the runbook expects {expected} [000]"
    return None


def _minute_gap(field: str) -> float | None:
    """The longest gap, in minutes, between the minutes one hour's `field` selects."""
    if field == "*":
        return 1.0
    if field.startswith("*/") and field[2:].isdigit() and int(field[2:]) > 0:
        step = int(field[2:])
        return float(max(step, 60 - (60 - 1) // step * step))
    parts = field.split(",")
    if all(p.isdigit() and int(p) < 60 for p in parts):
        minutes = sorted({int(p) for p in parts})
        gaps = [b - a for a, b in itertools.pairwise(minutes)]
        return float(max([*gaps, 60 - minutes[-1] + minutes[0]]))
    return None


def schedule_gap_s(schedule: str) -> float | None:
    """The longest time between two runs of a five-field cron `schedule`; None if not known.

    Covers the forms a backup schedule takes: every minute or every N minutes, given minutes
    of every hour, and once a day (`M H * * *`). Anything else returns None: the report then
    says the schedule was not judged.
    """
    fields = schedule.split()
    if len(fields) != 5 or fields[2:] != ["*", "*", "*"]:
        return None
    minute, hour = fields[0], fields[1]
    if hour == "*":
        gap = _minute_gap(minute)
        return None if gap is None else gap * 60.0
    if minute.isdigit() and hour.isdigit():
        return DAY_S
    return None


def judge_freshness(
    newest_age_s: float | None, rpo_s: float, schedule: str, *, suspended: bool
) -> str | None:
    """Runbook step 2 against the RPO: the newest backup, and what the schedule allows."""
    if suspended:
        return (
            f"the backup CronJob is suspended (spec.suspend: true; schedule '{schedule}'): "
            "no backup is being made"
        )
    gap = schedule_gap_s(schedule)
    if gap is not None and gap > rpo_s:
        return (
            f"the backup schedule '{schedule}' runs every {_age(gap)}, longer than the database "
            f"RPO of {_age(rpo_s)}: the newest backup can be that old"
        )
    if newest_age_s is None:
        return "there is no backup in the bucket"
    if newest_age_s > rpo_s:
        return f"the newest backup is {_age(newest_age_s)} old, older than the RPO {_age(rpo_s)}"
    return None


def judge_job_health(runs: Sequence[JobRun], *, suspended: bool) -> str | None:
    """Runbook step 3: the CronJob runs, and its last scheduled Job succeeded."""
    scheduled = [r for r in runs if r.scheduled]
    if suspended:
        return "the backup CronJob is suspended (kubectl get cronjobs: SUSPEND True)"
    if not scheduled:
        return "the backup CronJob has created no Job on its schedule"
    last = min(scheduled, key=lambda r: r.age_s)
    if last.failed and not last.succeeded:
        return f"the last scheduled backup Job {last.name} failed"
    if not last.finished:
        return f"the last scheduled backup Job {last.name} has not finished"
    return None


def cleanup_by_age(
    backups: Iterable[BackupObject], keep_days: int = KEEP_DAYS
) -> tuple[list[BackupObject], list[BackupObject]]:
    """The safe form of step 6: (to remove: older than `keep_days`, to keep: the rest)."""
    limit = keep_days * DAY_S
    found = newest_first(backups)
    return [b for b in found if b.age_s > limit], [b for b in found if b.age_s <= limit]


def seed_cleanup(
    backups: Iterable[BackupObject], keep: int = SEED_KEEP_COUNT
) -> list[BackupObject]:
    """What the seed's count-based command would remove (never run): all but the newest `keep`."""
    return newest_first(backups)[keep:]


def dump_complete(sql: bytes) -> bool:
    """True when the plain-format dump ends with pg_dump's closing comment."""
    return DUMP_TRAILER in sql[-4096:]
