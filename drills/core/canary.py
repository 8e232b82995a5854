"""The canary ledger: the harness's own sequence-numbered writes, for any PostgreSQL service.

The write ledger proves data loss through the demo shop's `POST /orders` contract. A team's own
service has no such contract, so during a drill the harness writes canary rows itself, at a
fixed rate, into a table of its own in the service's database, over its own connection, and
counts a row as acknowledged only once its COMMIT returned. After recovery the rows present are
read back from whichever database now serves, and the comparison is the write ledger's
(`drills.core.dataloss.compare_ledger`): each canary is an `AcknowledgedWrite` keyed by its
sequence number. So a restore's RPO is measured to one canary interval for any service, and the
attempts that could not commit show when the database could not take writes at all.

Pure logic: the writer is `drills.load.canary`, the table `drills.targets.adapters.canary`.
The table is named `drills_canary_<run>` and carries a comment saying who wrote it; it is
created before the drill's steady state and dropped when the drill ends, by a recorded rollback
that `drills rollback` replays after a crash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drills.core.dataloss import AcknowledgedWrite

__all__ = [
    "CANARY_TABLE_PREFIX",
    "CanaryAttempt",
    "CanaryGap",
    "CanarySettings",
    "acknowledged_writes",
    "canary_hash",
    "canary_key",
    "canary_table",
    "failed_attempts",
    "longest_gap",
]

CANARY_TABLE_PREFIX = "drills_canary_"
_MAX_IDENTIFIER = 63  # PostgreSQL truncates longer identifiers (NAMEDATALEN - 1)
_UNSAFE = re.compile(r"[^a-z0-9_]+")


@dataclass(frozen=True)
class CanarySettings:
    """The profile's `[canary]`: whether the harness writes canaries, and how many per second.

    20 per second resolves a restore's RPO to 50 ms while adding a load no database notices.
    """

    enabled: bool = True
    rate_per_s: float = 20.0

    @property
    def interval_s(self) -> float:
        """Seconds between two canary writes."""
        return 1.0 / self.rate_per_s


@dataclass(frozen=True)
class CanaryAttempt:
    """One canary write: its sequence number, when it ended (drill clock s) and how."""

    seq: int
    at_s: float
    committed: bool
    error: str = ""


@dataclass(frozen=True)
class CanaryGap:
    """The longest stretch between two committed canaries, and the failures inside it."""

    start_s: float
    end_s: float
    failed: int

    @property
    def duration_s(self) -> float:
        """How long no canary could commit (a bounded stretch; the run's end closes the last)."""
        return self.end_s - self.start_s


def canary_table(run_id: str) -> str:
    """`drills_canary_<run>`: a name nobody mistakes for the service's own, a valid identifier."""
    suffix = _UNSAFE.sub("_", run_id.lower()).strip("_") or "run"
    return (CANARY_TABLE_PREFIX + suffix)[:_MAX_IDENTIFIER]


def canary_key(seq: int) -> str:
    """The ledger key of canary `seq` (zero-padded so keys sort like their numbers)."""
    return f"canary-{seq:09d}"


def canary_hash(table: str, seq: int) -> str:
    """What the row holds and the ledger expects: SHA-256 of the table name and the number."""
    return hashlib.sha256(f"{table}:{seq}".encode()).hexdigest()


def acknowledged_writes(table: str, attempts: Iterable[CanaryAttempt]) -> list[AcknowledgedWrite]:
    """The committed canaries as write-ledger entries, for `compare_ledger`."""
    return [
        AcknowledgedWrite(canary_key(a.seq), a.at_s, canary_hash(table, a.seq))
        for a in attempts
        if a.committed
    ]


def failed_attempts(attempts: Iterable[CanaryAttempt]) -> list[CanaryAttempt]:
    """The attempts whose COMMIT never returned."""
    return [a for a in attempts if not a.committed]


def longest_gap(attempts: Sequence[CanaryAttempt], *, ended_s: float) -> CanaryGap | None:
    """The longest time between consecutive committed canaries (None: nothing was attempted).

    The stretch before the first commit starts at the first attempt, and the one after the last
    commit ends at `ended_s` (the writer's stop), so a database that never came back shows.
    """
    if not attempts:
        return None
    ordered = sorted(attempts, key=lambda a: a.at_s)
    best = CanaryGap(ordered[0].at_s, ordered[0].at_s, 0)
    start_s, failed = ordered[0].at_s, 0
    for attempt in ordered:
        if not attempt.committed:
            failed += 1
            continue
        best = _longer(best, CanaryGap(start_s, attempt.at_s, failed))
        start_s, failed = attempt.at_s, 0
    return _longer(best, CanaryGap(start_s, max(ended_s, start_s), failed))


def _longer(a: CanaryGap, b: CanaryGap) -> CanaryGap:
    return b if b.duration_s > a.duration_s else a
