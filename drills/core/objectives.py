"""Recovery objectives, verdicts, and the one place a verdict is computed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from drills.core.durations import format_duration

__all__ = ["Objective", "ObjectiveKind", "ObjectiveResult", "Verdict", "combine", "evaluate"]


class ObjectiveKind(StrEnum):
    """Which recovery objective: time to recover or data lost."""

    RTO = "RTO"
    RPO = "RPO"


class Verdict(StrEnum):
    """Outcome of a drill or an objective. Only PASS passes."""

    PASS = "PASS"
    FAIL = "FAIL"
    COULD_NOT_VERIFY = "COULD_NOT_VERIFY"
    ERROR = "ERROR"


# Worst first: a harness error hides everything, a definite breach beats an unknown.
_SEVERITY = (Verdict.ERROR, Verdict.FAIL, Verdict.COULD_NOT_VERIFY, Verdict.PASS)


@dataclass(frozen=True)
class Objective:
    """A target for one service, in seconds (RTO: time to recover; RPO: span of data lost)."""

    kind: ObjectiveKind
    service: str
    target_s: float

    def __post_init__(self) -> None:
        if self.target_s < 0:
            raise ValueError(f"{self.service}.{self.kind.lower()} target cannot be negative")


@dataclass(frozen=True)
class ObjectiveResult:
    """An objective beside what was measured; `measured_s` is None when it could not be measured."""

    name: ObjectiveKind
    service: str
    target_s: float
    measured_s: float | None
    verdict: Verdict
    detail: str = ""

    def summary(self) -> str:
        """One line: `shop RTO: measured 12.3s vs target 15m -> PASS`."""
        measured = format_duration(self.measured_s)
        text = (
            f"{self.service} {self.name}: measured {measured} vs target "
            f"{format_duration(self.target_s)} -> {self.verdict}"
        )
        return f"{text} ({self.detail})" if self.detail else text


def evaluate(objective: Objective, measured_s: float | None, detail: str = "") -> ObjectiveResult:
    """Judge one measurement against its target; an unmeasured figure is COULD_NOT_VERIFY."""
    if measured_s is None:
        verdict = Verdict.COULD_NOT_VERIFY
        detail = detail or "not measured"
    elif measured_s <= objective.target_s:
        verdict = Verdict.PASS
    else:
        verdict = Verdict.FAIL
    return ObjectiveResult(
        name=objective.kind,
        service=objective.service,
        target_s=objective.target_s,
        measured_s=measured_s,
        verdict=verdict,
        detail=detail,
    )


def combine(verdicts: Iterable[Verdict]) -> Verdict:
    """Return the worst verdict; nothing judged at all is COULD_NOT_VERIFY, never PASS."""
    seen = set(verdicts)
    if not seen:
        return Verdict.COULD_NOT_VERIFY
    return next(v for v in _SEVERITY if v in seen)
