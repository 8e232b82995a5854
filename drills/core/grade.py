"""What a practical is graded from (`Evidence`) and what the grade says (`Grade`).

Times are wall-clock epoch seconds (UTC), the same clock as the audit log, the statement log
and the session's own records; a grade shows them as offsets from the injection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from drills.core.actions import Action, Source
from drills.core.durations import format_duration
from drills.core.objectives import ObjectiveResult, Verdict
from drills.core.practical import Phase

__all__ = [
    "CheckpointTiming",
    "Criterion",
    "CriterionResult",
    "Evidence",
    "Grade",
    "Outcome",
    "PhaseTiming",
    "since",
]

DEFAULT_NAMES: Mapping[str, str] = {"deployment": "shop", "namespace": "default"}


@dataclass(frozen=True)
class Outcome:
    """The steady-state probes at the end: held for the stability window, or not, or unknown."""

    held: bool | None
    detail: str = ""


@dataclass(frozen=True)
class Evidence:
    """Everything a practical is graded from.

    `actions`: the trainee's actions from every source (kube, sql, aws readers, and the
    session's ack/page/notice/post-mortem records); only those between injection and finish
    count. `missing`: sources with no evidence, and why (e.g. no audit log): steps they would
    show are COULD_NOT_VERIFY. `objectives`, `detected_at_s` (TTD: the alert condition held),
    `mitigated_at_s` (TTM: user-visible failures stopped) and `resolved_at_s` (TTR: steady
    state held again) come from the drill's journal, as epoch seconds. `names` fill the
    matchers' placeholders (`{deployment}`, `{namespace}`).
    """

    injected_at_s: float
    finished_at_s: float
    actions: tuple[Action, ...] = ()
    missing: Mapping[Source, str] = field(default_factory=dict)
    outcome: Outcome | None = None
    objectives: tuple[ObjectiveResult, ...] = ()
    detected_at_s: float | None = None
    mitigated_at_s: float | None = None
    resolved_at_s: float | None = None
    names: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_NAMES))
    trainee: str = ""

    def in_window(self) -> list[Action]:
        """The actions between injection and finish, oldest first."""
        window = [a for a in self.actions if self.injected_at_s <= a.at_s <= self.finished_at_s]
        return sorted(window, key=lambda a: a.at_s)


class Criterion(StrEnum):
    """The rows of RUNBOOKS.md §4.2, in the order a grade shows them."""

    OUTCOME = "outcome"
    OBJECTIVES = "objectives"
    STEPS = "steps"
    ORDER = "order"
    TIMELINESS = "timeliness"
    ESCALATION = "escalation"
    SAFETY = "safety"
    COMMUNICATION = "communication"
    POSTMORTEM = "post-mortem"


@dataclass(frozen=True)
class CriterionResult:
    """One criterion: its verdict, the pass rule, why, and the evidence lines behind it."""

    criterion: Criterion
    verdict: Verdict
    rule: str
    reasons: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckpointTiming:
    """One step: when it was first seen (seconds since injection) against its budget."""

    checkpoint: str
    step: str
    phase: Phase
    required: bool
    budget_s: float
    seen_s: float | None
    evidence: str
    expected: str

    @property
    def over_budget(self) -> bool:
        """Seen, but later than its budget."""
        return self.seen_s is not None and self.seen_s > self.budget_s


@dataclass(frozen=True)
class PhaseTiming:
    """When a phase was done (seconds since injection), None when unknown, against its budget."""

    phase: Phase
    done_s: float | None
    budget_s: float
    how: str


@dataclass(frozen=True)
class Grade:
    """The grade of one practical: PASS only when every criterion passed."""

    drill_id: str
    variant: str
    trainee: str
    verdict: Verdict
    criteria: tuple[CriterionResult, ...]
    timings: tuple[CheckpointTiming, ...]
    phases: tuple[PhaseTiming, ...]
    ack_s: float | None
    time_scale: float = 1.0

    def result(self, criterion: Criterion) -> CriterionResult:
        """The result of one criterion."""
        return next(r for r in self.criteria if r.criterion is criterion)

    def reasons(self) -> list[str]:
        """Why it did not pass: `criterion: reason`, for every criterion that did not."""
        return [
            f"{r.criterion}: {reason}"
            for r in self.criteria
            if r.verdict is not Verdict.PASS
            for reason in (r.reasons or ("no reason given",))
        ]

    def render(self) -> str:
        """The grade as text: the verdict, where the time went, then every criterion."""
        lines = [f"{self.drill_id} ({self.variant}) for {self.trainee or '?'}: {self.verdict}"]
        if self.time_scale != 1:
            lines.append(f"  budgets scaled by {self.time_scale:g} for this run")
        lines.append("  where the time went (since injection):")
        lines.append(f"    {'acknowledged':<44} {_at(self.ack_s):>9}")
        for t in self.timings:
            mark = "required" if t.required else "optional"
            head = f"{t.phase}/{t.checkpoint} ({mark})"
            late = "  OVER BUDGET" if t.over_budget else ""
            seen = t.evidence if t.seen_s is not None else f"expected {t.expected}"
            lines.append(
                f"    {head:<44} {_at(t.seen_s):>9} / {format_duration(t.budget_s):<6}{late}"
                f"  {seen}"
            )
        for p in self.phases:
            head = f"phase {p.phase} done"
            lines.append(
                f"    {head:<44} {_at(p.done_s):>9} / {format_duration(p.budget_s):<6}  {p.how}"
            )
        lines.append("  criteria:")
        for r in self.criteria:
            lines.append(f"    {r.criterion:<14} {r.verdict:<17} {r.rule}")
            lines += [f"      - {reason}" for reason in r.reasons]
        return "\n".join(lines)


def _at(seconds: float | None) -> str:
    return "not seen" if seconds is None else f"+{format_duration(seconds)}"


def since(evidence: Evidence, at_s: float | None) -> float | None:
    """Seconds from injection to `at_s` (None stays None)."""
    return None if at_s is None else at_s - evidence.injected_at_s
