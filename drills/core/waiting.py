"""The one polling loop of the harness, built on tenacity and driven by the injected clock."""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import RetryCallState, Retrying, retry_if_result

from drills.core.clock import DrillClock
from drills.core.conditions import ConditionLike, Observation, observe
from drills.core.errors import WaitTimeout

__all__ = ["Waited", "wait_until"]


@dataclass(frozen=True)
class Waited:
    """Result of a wait.

    `elapsed_s` runs from the start of the wait until the condition was confirmed (for a stable
    wait: until it had held for `stable_for_s`); `first_held_s` is when the final unbroken streak
    began. Both are None when the condition was never confirmed.
    """

    met: bool
    elapsed_s: float | None
    first_held_s: float | None
    polls: int
    last: Observation


class _Streak:
    """Tracks how long the condition has held without a break."""

    def __init__(self, clock: DrillClock, check: ConditionLike, stable_for_s: float) -> None:
        self.clock, self.check, self.stable_for_s = clock, check, stable_for_s
        self.started_at: float | None = None
        self.polls = 0
        self.last = Observation(ok=False, detail="not observed yet")

    def poll(self) -> bool:
        self.polls += 1
        self.last = observe(self.check)
        now = self.clock.now()
        if not self.last.ok:
            self.started_at = None
            return False
        if self.started_at is None:
            self.started_at = now
        return now - self.started_at >= self.stable_for_s


def wait_until(  # noqa: PLR0913 - every argument is keyword-only and named for what it is
    check: ConditionLike,
    *,
    clock: DrillClock,
    timeout_s: float,
    poll_s: float = 0.5,
    stable_for_s: float = 0.0,
    description: str = "condition",
    raise_on_timeout: bool = True,
) -> Waited:
    """Poll `check` every `poll_s` until it holds for `stable_for_s`, or `timeout_s` passes.

    Returns how long it took. On timeout raises WaitTimeout with the last observation, unless
    `raise_on_timeout` is False, in which case `Waited.met` is False.
    """
    if timeout_s < 0 or poll_s <= 0 or stable_for_s < 0:
        raise ValueError("timeout_s and stable_for_s must be >= 0 and poll_s > 0")
    started = clock.now()
    streak = _Streak(clock, check, stable_for_s)

    def out_of_time(_: RetryCallState) -> bool:
        return clock.now() - started >= timeout_s

    retrying = Retrying(
        sleep=clock.sleep,
        stop=out_of_time,
        wait=lambda _: poll_s,
        retry=retry_if_result(lambda done: not done),
        retry_error_callback=lambda _: False,
    )
    met = bool(retrying(streak.poll))
    return _result(
        streak, started, description, timeout_s, met=met, raise_on_timeout=raise_on_timeout
    )


def _result(  # noqa: PLR0913 - private assembly of the result
    streak: _Streak,
    started: float,
    description: str,
    timeout_s: float,
    *,
    met: bool,
    raise_on_timeout: bool,
) -> Waited:
    now = streak.clock.now()
    if not met and raise_on_timeout:
        raise WaitTimeout(
            f"{description} not met within {timeout_s:g} s",
            elapsed_s=now - started,
            last_observed=streak.last.detail,
        )
    first = None if streak.started_at is None or not met else streak.started_at - started
    return Waited(
        met=met,
        elapsed_s=now - started if met else None,
        first_held_s=first,
        polls=streak.polls,
        last=streak.last,
    )
