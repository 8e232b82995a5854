"""The runbook's idle rule (RUNBOOKS §3.5) as a pure filter, and the recovery step on a fake."""

from __future__ import annotations

from collections.abc import Sequence

from drills.core.clock import FakeClock
from drills.recovery.terminate_idle import IdleRule, select_idle, terminate_idle
from drills.targets.ports.data import SessionInfo


def _session(pid: int, state: str, age_s: float, app: str = "shop") -> SessionInfo:
    return SessionInfo(pid, app, state, age_s, age_s, "shop")


SESSIONS = [
    _session(1, "idle", 700),
    _session(2, "idle", 30),
    _session(3, "active", 900),
    _session(4, "idle in transaction", 900),
    _session(5, "idle", 900, app="drills-probe"),
]


def test_runbook_rule_takes_only_old_idle_sessions() -> None:
    assert [s.pid for s in select_idle(SESSIONS, IdleRule())] == [1]


def test_scaled_rule_is_reported_with_its_scale() -> None:
    rule = IdleRule(older_than_s=600, scale=0.01)
    assert rule.effective_s == 6.0
    assert [s.pid for s in select_idle(SESSIONS, rule)] == [1, 2]
    assert "scaled x0.01" in rule.describe()
    assert "state = 'idle'" in rule.describe()


class Admin:
    name = "admin"

    def __init__(self) -> None:
        self.asked: list[tuple[list[int], str | None, float]] = []

    def sessions(self) -> list[SessionInfo]:
        return SESSIONS

    def terminate(
        self, pids: Sequence[int], *, only_state: str | None = None, older_than_s: float = 0.0
    ) -> list[int]:
        self.asked.append((list(pids), only_state, older_than_s))
        return list(pids)


def test_recovery_never_asks_to_terminate_an_active_session() -> None:
    admin = Admin()
    result = terminate_idle(admin, IdleRule(scale=0.01), clock=FakeClock())  # type: ignore[arg-type]
    assert result.terminated == (1, 2)
    assert admin.asked == [([1, 2], "idle", 6.0)]
    assert 3 in result.spared_active
    assert result.states_before["idle"] == 3
    assert "terminated 2 of 5" in result.summary()
