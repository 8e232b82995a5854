"""The canary writer over an in-memory table: commits, failures, stop, and one start only."""

from __future__ import annotations

import itertools
import threading

import pytest

from drills.core.canary import CanarySettings, canary_hash
from drills.core.clock import SystemClock
from drills.core.errors import DrillError, TransientError
from drills.core.waiting import wait_until
from drills.load.canary import CanaryWriter


class MemoryTable:
    """A canary table in memory that refuses the sequence numbers in `down` (an outage)."""

    def __init__(self, down: set[int]) -> None:
        self.name = "drills_canary_unit"
        self.down = down
        self.rows: dict[int, str] = {}
        self.closed = 0
        self.lock = threading.Lock()

    def create(self, comment: str) -> None:
        del comment

    def write(self, seq: int, digest: str, *, timeout_s: float) -> None:
        del timeout_s
        if seq in self.down:
            raise TransientError(f"write canary {seq}: connection refused")
        with self.lock:
            self.rows[seq] = digest

    def close(self) -> None:
        self.closed += 1

    def drop(self) -> bool:
        return True


def _run_until(writer: CanaryWriter, attempts: int) -> None:
    writer.start()
    wait_until(
        lambda: len(writer.attempts()) >= attempts,
        clock=writer.clock,
        timeout_s=10,
        poll_s=0.01,
        description=f"{attempts} canary attempts",
    )
    writer.stop()


def test_each_tick_commits_the_next_number_and_an_outage_shows_as_failures() -> None:
    table = MemoryTable(down={3, 4, 5})
    writer = CanaryWriter(table, CanarySettings(rate_per_s=200), SystemClock())
    _run_until(writer, 12)
    attempts = writer.attempts()
    assert [a.seq for a in attempts] == list(range(1, len(attempts) + 1))
    assert [a.seq for a in attempts if not a.committed] == [3, 4, 5]
    assert "connection refused" in attempts[2].error
    assert table.rows[1] == canary_hash(table.name, 1)
    assert set(table.rows) == {a.seq for a in attempts if a.committed}
    assert all(b.at_s >= a.at_s for a, b in itertools.pairwise(attempts))


def test_stop_ends_the_thread_closes_the_connection_and_keeps_its_time() -> None:
    table = MemoryTable(down=set())
    writer = CanaryWriter(table, CanarySettings(rate_per_s=200), SystemClock())
    _run_until(writer, 3)
    first = writer.stopped_at_s
    count = len(writer.attempts())
    assert not writer.running
    assert table.closed >= 1
    assert writer.stop() == first  # a second stop changes nothing
    assert len(writer.attempts()) == count


def test_a_writer_starts_once() -> None:
    writer = CanaryWriter(MemoryTable(down=set()), CanarySettings(rate_per_s=200), SystemClock())
    writer.start()
    try:
        with pytest.raises(DrillError, match="started twice"):
            writer.start()
    finally:
        writer.stop()
