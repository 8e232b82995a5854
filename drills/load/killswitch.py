"""The kill switch: stop a drill when users have been failing for too long.

`KillSwitch.poll()` looks at the user-side error ratio over the last `window_s` seconds of
traffic. When it stays above `error_ratio` for `sustained_s` (measured on the drill clock), the
switch trips once and calls `on_trip(reason)`; a drill wires that to `Drill.abort`, so the
next poll raises DrillAborted, the rollbacks run and the verdict is ERROR with the reason.
`start()` polls from a daemon thread until `stop()`; unit tests call `poll()` on a FakeClock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from drills.core.clock import DrillClock
from drills.core.profile import KillSwitch as KillSwitchSettings
from drills.load.traffic import TrafficRecorder

__all__ = ["KillSwitch"]


class KillSwitch:
    """Trips once when the error ratio stays above the limit for longer than allowed."""

    def __init__(  # noqa: PLR0913 - every knob comes from the profile
        self,
        recorder: TrafficRecorder,
        *,
        clock: DrillClock,
        error_ratio: float,
        sustained_s: float,
        on_trip: Callable[[str], None],
        window_s: float = 5.0,
        poll_s: float = 0.5,
    ) -> None:
        if not 0.0 <= error_ratio <= 1.0 or sustained_s < 0 or window_s <= 0 or poll_s <= 0:
            raise ValueError("need 0 <= error_ratio <= 1, sustained_s >= 0, window_s/poll_s > 0")
        self._recorder, self._clock, self._on_trip = recorder, clock, on_trip
        self.error_ratio, self.sustained_s = error_ratio, sustained_s
        self.window_s, self.poll_s = window_s, poll_s
        self._above_since_s: float | None = None
        self.tripped_reason: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_profile(
        cls,
        recorder: TrafficRecorder,
        settings: KillSwitchSettings,
        *,
        clock: DrillClock,
        on_trip: Callable[[str], None],
    ) -> KillSwitch:
        """A switch with the profile's `[kill_switch]` error ratio and allowance."""
        return cls(
            recorder,
            clock=clock,
            error_ratio=settings.error_ratio,
            sustained_s=settings.sustained_s,
            on_trip=on_trip,
        )

    def poll(self) -> bool:
        """Look once; returns True when the switch is (now or already) tripped."""
        if self.tripped_reason is not None:
            return True
        now = self._clock.now()
        stats = self._recorder.window(now - self.window_s, now)
        if stats.error_ratio is None or stats.error_ratio <= self.error_ratio:
            self._above_since_s = None
            return False
        if self._above_since_s is None:
            self._above_since_s = now
        above_for_s = now - self._above_since_s
        if above_for_s < self.sustained_s:
            return False
        self.tripped_reason = (
            f"kill switch: user-side error ratio {stats.error_ratio:.2f} above the abort limit "
            f"{self.error_ratio:.2f} for {above_for_s:.1f} s (allowed {self.sustained_s:.1f} s)"
        )
        self._on_trip(self.tripped_reason)
        return True

    def start(self) -> None:
        """Poll every `poll_s` from a daemon thread until `stop()` or the switch trips."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="drills-kill-switch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling; idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.poll():
                return
            self._stop.wait(self.poll_s)
