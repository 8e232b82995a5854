"""What the idle-rule recovery reports about the sessions it ended (per application and state)."""

from __future__ import annotations

from collections.abc import Sequence

from drills.core.clock import FakeClock
from drills.recovery.terminate_idle import IdleRule, terminate_idle
from drills.targets.ports.data import SessionInfo

SESSIONS = [
    SessionInfo(1, "drills-leak-1", "idle", 50.0, 50.0, "shop"),
    SessionInfo(2, "drills-leak-1", "idle", 50.0, 50.0, "shop"),
    SessionInfo(3, "shop", "idle", 40.0, 40.0, "shop"),
    SessionInfo(4, "shop", "active", 0.1, 0.1, "shop"),
    SessionInfo(5, "drills-leak-1", "idle in transaction", 50.0, 50.0, "shop"),
]


class Admin:
    """A fake admin database that terminates whatever it is told to (a faulty server)."""

    name = "admin"

    def __init__(self, extra: Sequence[int] = ()) -> None:
        self.extra = list(extra)

    def sessions(self) -> list[SessionInfo]:
        return SESSIONS

    def terminate(
        self, pids: Sequence[int], *, only_state: str | None = None, older_than_s: float = 0.0
    ) -> list[int]:
        return [*pids, *self.extra]


def test_terminated_sessions_are_counted_by_application_and_state() -> None:
    result = terminate_idle(Admin(), IdleRule(scale=0.01), clock=FakeClock())  # type: ignore[arg-type]
    assert result.terminated_by == {"drills-leak-1 (idle)": 2, "shop (idle)": 1}
    assert result.active_terminated == ()


def test_an_active_session_that_was_ended_is_reported() -> None:
    admin = Admin(extra=[4])
    result = terminate_idle(admin, IdleRule(scale=0.01), clock=FakeClock())  # type: ignore[arg-type]
    assert result.active_terminated == (4,)
    assert result.terminated_by["shop (active)"] == 1
