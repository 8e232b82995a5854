"""The canary writer: the harness's own writes at a fixed rate, on a thread of their own.

Each tick inserts the next sequence number and records an attempt once the database answered:
committed when COMMIT returned, failed with the error otherwise (`drills.core.canary`). The
ticks keep their schedule; a write that overran its tick is not followed by a burst to catch
up, so an outage shows as a stretch of failures at the set rate, not as a flood afterwards.

The canary table is a prepared change, not a fault (`CanaryTableChange`): `Drill.prepare()`
records its rollback (drop the table) on disk before the table exists, so `drills rollback`
drops it after a crash, and the drill drops it with the faults' rollbacks, after them (it was
recorded first). Its rollback stops the writer first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from drills.core.canary import CanaryAttempt, CanarySettings, canary_hash
from drills.core.clock import DrillClock
from drills.core.errors import DrillError
from drills.core.safety import RollbackEntry
from drills.core.secrets import without_password
from drills.targets.ports.canary import CanaryTable

__all__ = ["CANARY_TABLE", "CanaryTableChange", "CanaryWriter"]


class CanaryWriter:
    """Writes canaries into `table` every `settings.interval_s` between `start()` and `stop()`."""

    def __init__(
        self,
        table: CanaryTable,
        settings: CanarySettings,
        clock: DrillClock,
        *,
        timeout_s: float = 2.0,
    ) -> None:
        self.table = table
        self.settings = settings
        self.clock = clock
        self.timeout_s = timeout_s
        self._attempts: list[CanaryAttempt] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stopped_at_s: float | None = None

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start writing (once)."""
        if self._thread is not None:
            raise DrillError("the canary writer was started twice; start it once per drill")
        self._thread = threading.Thread(target=self._run, name="drills-canary", daemon=True)
        self._thread.start()

    def stop(self) -> float:
        """Stop after the write in flight, close the connection; the stop time (drill clock)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s * 3 + 5)
        self.table.close()
        if self.stopped_at_s is None:
            self.stopped_at_s = self.clock.now()
        return self.stopped_at_s

    def attempts(self) -> list[CanaryAttempt]:
        """Every attempt so far, in order."""
        with self._lock:
            return list(self._attempts)

    def _run(self) -> None:
        seq = 0
        due_s = self.clock.now()
        while not self._stop.is_set():
            seq += 1
            self._record(self._attempt(seq))
            due_s += self.settings.interval_s
            wait_s = due_s - self.clock.now()
            if wait_s < 0:  # the write overran its tick: keep the rate, do not catch up
                due_s, wait_s = self.clock.now(), 0.0
            self._stop.wait(wait_s)

    def _attempt(self, seq: int) -> CanaryAttempt:
        try:
            self.table.write(seq, canary_hash(self.table.name, seq), timeout_s=self.timeout_s)
        except DrillError as exc:
            return CanaryAttempt(seq, self.clock.now(), committed=False, error=str(exc)[:200])
        return CanaryAttempt(seq, self.clock.now(), committed=True)

    def _record(self, attempt: CanaryAttempt) -> None:
        with self._lock:
            self._attempts.append(attempt)


CANARY_TABLE = "canary-table"  # = drills.targets.adapters.data_rollbacks.CANARY_TABLE_KIND


@dataclass
class CanaryTableChange:
    """Create `writer.table` in the database at `dsn`; the rollback stops the writer, drops it."""

    writer: CanaryWriter
    dsn: str
    run_id: str
    kind: str = CANARY_TABLE

    @property
    def target(self) -> str:
        """The table."""
        return f"table/{self.writer.table.name}"

    def describe(self) -> str:
        """One line for the plan."""
        rate = self.writer.settings.rate_per_s
        return f"create the canary table {self.writer.table.name} ({rate:g} writes/s by drills)"

    def rollback_entry(self) -> RollbackEntry:
        """The DSN without its password, and the table's name."""
        return RollbackEntry(
            self.kind,
            self.target,
            {"dsn": without_password(self.dsn), "table": self.writer.table.name},
        )

    def apply(self) -> None:
        """Create the table, with a comment naming the run that owns it."""
        self.writer.table.create(
            f"canary rows written by the drills harness, run {self.run_id}; dropped when the "
            "drill ends, safe to drop (drills rollback does)"
        )

    def rollback(self) -> None:
        """Stop the writer, then drop the table (idempotent)."""
        self.writer.stop()
        self.writer.table.drop()
