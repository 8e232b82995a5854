"""The canary writer: the harness's own writes at a fixed rate, on a thread of their own.

Each tick inserts the next sequence number and records an attempt once the database answered:
committed when COMMIT returned, failed with the error otherwise (`drills.core.canary`). The
ticks keep their schedule; a write that overran its tick is not followed by a burst to catch
up, so an outage shows as a stretch of failures at the set rate, not as a flood afterwards.
"""

from __future__ import annotations

import threading

from drills.core.canary import CanaryAttempt, CanarySettings, canary_hash
from drills.core.clock import DrillClock
from drills.core.errors import DrillError
from drills.targets.ports.canary import CanaryTable

__all__ = ["CanaryWriter"]


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
