"""A certification practical as data: the page a trainee gets, the runbook steps, the budgets.

A `Practical` belongs to one drill (RUNBOOKS.md §3.x). The harness picks one of its `Variant`s,
injects it and shows only the `PagerAlert`. Each recovery step of the runbook is a `Checkpoint`:
the evidence that shows it was done (any of its matchers), whether it is required, which steps
must come before it (`after`) and by when it must be done. `Hazard`s are actions that must not
happen (RUNBOOKS.md §5.2). `GradingPolicy` holds the figures the grade is judged by.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from enum import StrEnum

from drills.core.actions import Matcher, Source
from drills.core.errors import ConfigError

__all__ = [
    "Checkpoint",
    "EscalationMark",
    "GradingPolicy",
    "Hazard",
    "PagerAlert",
    "Phase",
    "Practical",
    "Variant",
]


class Phase(StrEnum):
    """Incident phases of the runbook template (001_dba783835563cb30.txt § Runbook Template)."""

    DETECT = "detect"  # immediate actions: under 5 min
    MITIGATE = "mitigate"  # investigation and mitigation: done within 15 min
    RESOLVE = "resolve"  # resolution: done within 60 min


@dataclass(frozen=True)
class PagerAlert:
    """What the pager shows: all a trainee learns about the fault at the start."""

    name: str
    severity: str
    text: str
    service: str

    def page(self) -> str:
        """E.g. `PodCrashLooping P1: shop pods restarting (service shop)`."""
        return f"{self.name} {self.severity}: {self.text} (service {self.service})"


@dataclass(frozen=True)
class Variant:
    """One way to inject the practical's fault; hidden from the trainee until the grade.

    `parameters` tell the session how to inject it with the drill's own fault (e.g.
    `fraction=0.5`); `alert` replaces the practical's page when this variant looks different.
    """

    id: str
    summary: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    alert: PagerAlert | None = None


@dataclass(frozen=True)
class Checkpoint:
    """One runbook step, recognised on the evidence.

    Seen when any of `matchers` matches an action after injection. `after` names checkpoints
    whose first action must come before this one's: an earlier action fails the order
    criterion (restore before writes stopped). `seen_after` names checkpoints this one is only
    looked for after (a check that only counts once the fix is in, like `rollout status`
    after `rollout undo`); both must be listed earlier. `budget_s` (seconds since injection)
    defaults to the phase's budget. `variants` limits the step to some variants (empty: all).
    `expect` says what the state should be afterwards (judged by the outcome probe).
    """

    id: str
    step: str
    matchers: tuple[Matcher, ...]
    phase: Phase
    required: bool = True
    after: tuple[str, ...] = ()
    seen_after: tuple[str, ...] = ()
    budget_s: float | None = None
    variants: frozenset[str] = frozenset()
    expect: str = ""

    def applies_to(self, variant: str) -> bool:
        """Whether this step is part of `variant`'s recovery."""
        return not self.variants or variant in self.variants


@dataclass(frozen=True)
class Hazard:
    """An action that must not happen, unless `remedy` follows it (e.g. policies restored)."""

    id: str
    why: str
    matcher: Matcher
    remedy: Matcher | None = None


@dataclass(frozen=True)
class Practical:
    """The certification practical of one drill."""

    drill_id: str
    runbook: str
    title: str
    alert: PagerAlert
    variants: tuple[Variant, ...]
    checkpoints: tuple[Checkpoint, ...]
    hazards: tuple[Hazard, ...] = ()

    def __post_init__(self) -> None:
        ids = [c.id for c in self.checkpoints]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        late = sorted(
            f"{c.id} -> {d}"
            for n, c in enumerate(self.checkpoints)
            for d in (*c.after, *c.seen_after)
            if d not in ids[:n]
        )
        if dupes or late:
            raise ConfigError(
                f"practical {self.drill_id}: checkpoint ids must be unique ({dupes}) and "
                f"`after`/`seen_after` must name earlier checkpoints ({late})"
            )

    def variant(self, variant_id: str) -> Variant:
        """The variant called `variant_id`; raises ConfigError listing the valid ones."""
        for variant in self.variants:
            if variant.id == variant_id:
                return variant
        raise ConfigError(
            f"practical {self.drill_id} has no variant {variant_id!r}; pick one of "
            f"{[v.id for v in self.variants]} (or --random)"
        )

    def alert_for(self, variant_id: str) -> PagerAlert:
        """The page the trainee gets for this variant."""
        return self.variant(variant_id).alert or self.alert

    def checkpoints_for(self, variant_id: str) -> tuple[Checkpoint, ...]:
        """The steps graded for this variant, in runbook order."""
        self.variant(variant_id)
        return tuple(c for c in self.checkpoints if c.applies_to(variant_id))

    def sources(self, variant_id: str) -> frozenset[Source]:
        """The evidence sources this variant's required steps are recognised from."""
        return frozenset(
            m.source for c in self.checkpoints_for(variant_id) if c.required for m in c.matchers
        )


@dataclass(frozen=True)
class EscalationMark:
    """Page `level` when the incident is still unresolved `after_s` seconds after injection."""

    level: int
    after_s: float


# RUNBOOKS.md §2.4: Level 2 after 15 min, Level 3 after 30 min (000 § Escalation Procedure).
_DEFAULT_MARKS = (EscalationMark(2, 900.0), EscalationMark(3, 1800.0))


@dataclass(frozen=True)
class GradingPolicy:
    """The figures a practical is graded by, in seconds before `time_scale` applies.

    `time_scale` multiplies every budget and mark (0.01 turns 15 min into 9 s for a scripted
    trainee); the grade prints it. `timeline_tz` is the zone a post-mortem's bare clock times
    (`14:02:10`) are read in.
    """

    ack_within_s: float = 300.0  # RUNBOOKS.md §2.3: acknowledge within 5 min [003][004][000]
    detect_s: float = 300.0  # §2.1: immediate actions under 5 min [001]
    mitigate_s: float = 900.0  # §2.1: investigation 5-15 min [001]
    resolve_s: float = 3600.0  # §2.1: resolution 15-60 min [001]
    escalation: tuple[EscalationMark, ...] = _DEFAULT_MARKS
    escalation_grace_s: float = 60.0  # harness choice: a page up to a minute after the mark
    postmortem_tolerance_s: float = 120.0  # harness choice: people write times by hand
    time_scale: float = 1.0
    timeline_tz: tzinfo = UTC

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ConfigError(f"time_scale must be above zero, not {self.time_scale}")

    def scaled(self, seconds: float) -> float:
        """A budget as it applies on this run's clock."""
        return seconds * self.time_scale

    def phase_budget_s(self, phase: Phase) -> float:
        """The scaled budget of a phase, since injection."""
        budgets = {
            Phase.DETECT: self.detect_s,
            Phase.MITIGATE: self.mitigate_s,
            Phase.RESOLVE: self.resolve_s,
        }
        return self.scaled(budgets[phase])

    def budget_s(self, checkpoint: Checkpoint) -> float:
        """The scaled budget of one checkpoint: its own, else its phase's."""
        if checkpoint.budget_s is not None:
            return self.scaled(checkpoint.budget_s)
        return self.phase_budget_s(checkpoint.phase)
