"""The kill switch: stop a drill when users have been failing for too long.

`KillSwitch.poll()` looks at the user-side error ratio over the last `window_s` seconds of
traffic. When it stays above `error_ratio` for `sustained_s` (measured on the drill clock), the
switch trips once and calls `on_trip(reason)`; a drill wires that to `Drill.abort`, so the
next poll raises DrillAborted, the rollbacks run and the verdict is ERROR with the reason.
`start()` polls from a daemon thread until `stop()`; unit tests call `poll()` on a FakeClock.

Given the load generator, the switch also trips at once when it died (LoadGeneratorDied: the
drill has lost its users, so every guarded wait must stop), and it counts a window with users
running but no completed request as all failing: stuck users are not healthy users.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from drills.core.clock import DrillClock
from drills.core.errors import LoadGeneratorDied
from drills.core.profile import KillSwitch as KillSwitchSettings
from drills.load.traffic import TrafficRecorder, silent_users
from drills.targets.ports.load import LoadGenerator

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
        generator: LoadGenerator | None = None,
    ) -> None:
        if not 0.0 <= error_ratio <= 1.0 or sustained_s < 0 or window_s <= 0 or poll_s <= 0:
            raise ValueError("need 0 <= error_ratio <= 1, sustained_s >= 0, window_s/poll_s > 0")
        self._recorder, self._clock, self._on_trip = recorder, clock, on_trip
        self._generator = generator
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
        generator: LoadGenerator | None = None,
    ) -> KillSwitch:
        """A switch with the profile's `[kill_switch]` error ratio and allowance."""
        return cls(
            recorder,
            clock=clock,
            error_ratio=settings.error_ratio,
            sustained_s=settings.sustained_s,
            on_trip=on_trip,
            generator=generator,
        )

    def poll(self) -> bool:
        """Look once; returns True when the switch is (now or already) tripped."""
        if self.tripped_reason is not None:
            return True
        if self._generator is not None:
            try:
                self._generator.check_running()
            except LoadGeneratorDied as exc:
                return self._trip(f"kill switch: {exc}")
        now = self._clock.now()
        ratio, seen = self._error_ratio(now)
        if ratio is None or ratio <= self.error_ratio:
            self._above_since_s = None
            return False
        if self._above_since_s is None:
            self._above_since_s = now
        above_for_s = now - self._above_since_s
        if above_for_s < self.sustained_s:
            return False
        return self._trip(
            f"kill switch: user-side error ratio {ratio:.2f} above the abort limit "
            f"{self.error_ratio:.2f} for {above_for_s:.1f} s (allowed {self.sustained_s:.1f} s)"
            f"{seen}"
        )

    def _error_ratio(self, now: float) -> tuple[float | None, str]:
        """The window's error ratio; 1.0 when users run but none completed a request."""
        stats = self._recorder.window(now - self.window_s, now)
        if stats.error_ratio is not None:
            return stats.error_ratio, ""
        if self._generator is not None and self._generator.users() > 0:
            return 1.0, f"; last seen: {silent_users(self.window_s, self._generator)}"
        return None, ""  # no users, no traffic: nothing to judge

    def _trip(self, reason: str) -> bool:
        self.tripped_reason = reason
        self._on_trip(reason)
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
