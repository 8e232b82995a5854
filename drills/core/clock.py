"""The one clock a drill measures with: monotonic seconds, plus wall time for display only."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["DrillClock", "FakeClock", "SystemClock", "wall_at"]


class DrillClock(Protocol):
    """Source of time for a drill; inject a FakeClock in unit tests."""

    def now(self) -> float:
        """Monotonic seconds; only differences are meaningful."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for `seconds` (a FakeClock advances instead)."""
        ...

    def wall(self) -> datetime:
        """Timezone-aware UTC wall time, for display and reports only."""
        ...


class SystemClock:
    """The real clock: time.monotonic for durations, UTC wall time for display."""

    def now(self) -> float:
        """Return monotonic seconds."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep for `seconds` (negative values sleep zero)."""
        time.sleep(max(0.0, seconds))

    def wall(self) -> datetime:
        """Return the current UTC wall time."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told: sleep() advances it, nothing blocks.

    A 15-minute wait runs in microseconds and elapsed times are exact.
    """

    def __init__(self, start_s: float = 1000.0, wall_start: datetime | None = None) -> None:
        self._now_s = start_s
        self._start_s = start_s
        self._wall_start = wall_start or datetime(2026, 1, 1, tzinfo=UTC)
        self.sleeps: list[float] = []

    def now(self) -> float:
        """Return the fake monotonic time."""
        return self._now_s

    def sleep(self, seconds: float) -> None:
        """Advance the clock by `seconds` and remember the request."""
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        """Move the clock forward; going backwards is a bug in the test."""
        if seconds < 0:
            raise ValueError(f"a monotonic clock cannot go back ({seconds} s)")
        self._now_s += seconds

    def wall(self) -> datetime:
        """Return wall time derived from the fake monotonic time."""
        return self._wall_start + timedelta(seconds=self._now_s - self._start_s)


def wall_at(clock: DrillClock, monotonic_s: float) -> datetime:
    """Translate a monotonic timestamp of `clock` into UTC wall time for display."""
    return clock.wall() - timedelta(seconds=clock.now() - monotonic_s)
