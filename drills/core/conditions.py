"""Conditions a drill waits on: callables that observe the system once and say whether it holds.

They compose like tenacity's strategies: `replicas_ready(shop) & error_ratio_below(traffic, 0.01)`.
A plain `lambda: True` is a valid condition as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Condition", "Observation", "as_condition", "observe"]


@dataclass(frozen=True)
class Observation:
    """One look at the system: whether the condition holds and what was seen."""

    ok: bool
    detail: str = ""


ConditionLike = Callable[[], "Observation | bool"]


class Condition:
    """A named check that returns an Observation; supports `&` and `|`."""

    def __init__(self, name: str, check: ConditionLike) -> None:
        self.name = name
        self._check = check

    def __call__(self) -> Observation:
        """Observe once; a bool result becomes an Observation with no detail."""
        return observe(self._check)

    def __and__(self, other: ConditionLike) -> Condition:
        right = as_condition(other)
        return Condition(f"({self.name} and {right.name})", lambda: _both(self, right))

    def __or__(self, other: ConditionLike) -> Condition:
        right = as_condition(other)
        return Condition(f"({self.name} or {right.name})", lambda: _either(self, right))

    def negated(self, name: str) -> Condition:
        """Holds exactly when this one does not, with the same detail (an alert on a broken state).

        `name` says what the negation means, e.g. "shop replicas below desired".
        """
        return Condition(name, lambda: _opposite(self))

    def __repr__(self) -> str:
        return f"Condition({self.name})"


def observe(check: ConditionLike) -> Observation:
    """Run a check once and normalise its result to an Observation."""
    result = check()
    if isinstance(result, Observation):
        return result
    return Observation(ok=bool(result), detail="true" if result else "false")


def as_condition(check: ConditionLike) -> Condition:
    """Wrap a callable as a Condition, keeping a Condition as it is."""
    if isinstance(check, Condition):
        return check
    return Condition(getattr(check, "__name__", "condition"), check)


def _opposite(condition: Condition) -> Observation:
    seen = condition()
    return Observation(ok=not seen.ok, detail=seen.detail)


def _both(left: Condition, right: Condition) -> Observation:
    first = left()
    if not first.ok:
        return Observation(ok=False, detail=f"{left.name}: {first.detail}")
    second = right()
    return Observation(ok=second.ok, detail=f"{first.detail}; {second.detail}")


def _either(left: Condition, right: Condition) -> Observation:
    first = left()
    if first.ok:
        return first
    second = right()
    return Observation(ok=second.ok, detail=f"{first.detail}; {second.detail}")
