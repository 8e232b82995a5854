"""Runbook recovery for pool exhaustion (RUNBOOKS §3.5 step 2): terminate idle backends.

The runbook's rule is `state = 'idle' AND state_change < now() - interval '10 minutes'`. Ten
minutes is too long for a drill, so the age is scaled: `IdleRule(older_than_s=600, scale=0.005)`
means "idle for 3 s", and the report prints both the rule and the scale. Only sessions matching
the rule are terminated, and the server re-checks the state at the moment of termination, so a
session that turned active in between is never killed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from drills.core.clock import DrillClock
from drills.core.durations import format_duration
from drills.targets.ports.data import Database, SessionInfo

__all__ = ["IdleRule", "TerminationResult", "select_idle", "terminate_idle"]


@dataclass(frozen=True)
class IdleRule:
    """Which backends count as idle leftovers."""

    state: str = "idle"
    older_than_s: float = 600.0
    scale: float = 1.0
    spare_applications: tuple[str, ...] = ("drills-probe",)

    @property
    def effective_s(self) -> float:
        """The age threshold after scaling."""
        return self.older_than_s * self.scale

    def describe(self) -> str:
        """The rule as the report prints it."""
        scaled = (
            ""
            if self.scale == 1.0
            else (
                f" (runbook {format_duration(self.older_than_s)}"
                f" scaled x{self.scale:g} for the drill)"
            )
        )
        return (
            f"state = '{self.state}' AND state_change older than "
            f"{format_duration(self.effective_s)}{scaled}"
        )

    def matches(self, session: SessionInfo) -> bool:
        """True when the session is an idle leftover under this rule."""
        return (
            session.state == self.state
            and session.state_age_s >= self.effective_s
            and session.application_name not in self.spare_applications
        )


def select_idle(sessions: Sequence[SessionInfo], rule: IdleRule) -> list[SessionInfo]:
    """The sessions the rule would terminate (pure)."""
    return [s for s in sessions if rule.matches(s)]


@dataclass(frozen=True)
class TerminationResult:
    """What the recovery step did and how long it took."""

    rule: str
    sessions_before: int
    states_before: dict[str, int]
    candidates: tuple[int, ...]
    terminated: tuple[int, ...]
    spared_active: tuple[int, ...]
    duration_s: float
    terminated_by: dict[str, int] = field(default_factory=dict)

    @property
    def active_terminated(self) -> tuple[int, ...]:
        """Pids that were active when listed and were terminated anyway (must stay empty)."""
        return tuple(pid for pid in self.terminated if pid in self.spared_active)

    def summary(self) -> str:
        """One line for the report."""
        states = ", ".join(f"{k or 'n/a'}={v}" for k, v in sorted(self.states_before.items()))
        return (
            f"terminated {len(self.terminated)} of {self.sessions_before} sessions ({states}) "
            f"by rule {self.rule} in {self.duration_s:.2f} s"
        )


def terminate_idle(admin: Database, rule: IdleRule, *, clock: DrillClock) -> TerminationResult:
    """Size the problem, then terminate the sessions matching the rule (RUNBOOKS §3.5 1-2)."""
    started = clock.now()
    sessions = admin.sessions()
    states: dict[str, int] = {}
    for session in sessions:
        states[session.state] = states.get(session.state, 0) + 1
    candidates = [s.pid for s in select_idle(sessions, rule)]
    terminated = admin.terminate(candidates, only_state=rule.state, older_than_s=rule.effective_s)
    active = tuple(s.pid for s in sessions if s.state == "active")
    return TerminationResult(
        rule=rule.describe(),
        sessions_before=len(sessions),
        states_before=states,
        candidates=tuple(candidates),
        terminated=tuple(terminated),
        spared_active=active,
        duration_s=clock.now() - started,
        terminated_by=_count_by_application_and_state(sessions, terminated),
    )


def _count_by_application_and_state(
    sessions: Sequence[SessionInfo], pids: Sequence[int]
) -> dict[str, int]:
    """`application (state when listed)` -> how many of `pids`, for the report."""
    ended = set(pids)
    counts: dict[str, int] = {}
    for session in sessions:
        if session.pid in ended:
            key = f"{session.application_name or 'n/a'} ({session.state or 'n/a'})"
            counts[key] = counts.get(key, 0) + 1
    return counts
