"""The criteria of RUNBOOKS.md §4.2, one function each, over what was seen in a practical.

Every function returns a `CriterionResult`. A criterion whose evidence is missing is
COULD_NOT_VERIFY, never PASS; a definite breach is FAIL with the exact reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from drills.core.actions import Action, Source, TraineeVerb, fill
from drills.core.durations import format_duration
from drills.core.grade import Criterion, CriterionResult, Evidence, since
from drills.core.objectives import Verdict, combine
from drills.core.practical import Checkpoint, GradingPolicy, Phase, Practical

__all__ = [
    "Seen",
    "judge_escalation",
    "judge_objectives",
    "judge_order",
    "judge_outcome",
    "judge_safety",
    "judge_steps",
    "see",
]


@dataclass(frozen=True)
class Seen:
    """The practical's steps matched against the evidence window."""

    practical: Practical
    variant: str
    evidence: Evidence
    policy: GradingPolicy
    actions: tuple[Action, ...]
    checkpoints: tuple[Checkpoint, ...]
    first: Mapping[str, Action]  # checkpoint id -> its first matching action
    blind: Mapping[str, str]  # checkpoint id (unseen) -> why its evidence is missing

    def trainee(self, verb: TraineeVerb) -> list[Action]:
        """What the session recorded for the trainee, oldest first."""
        return [a for a in self.actions if a.source is Source.TRAINEE and a.verb == verb]

    def at(self, checkpoint_id: str) -> float | None:
        """When a checkpoint was first seen (epoch s)."""
        action = self.first.get(checkpoint_id)
        return None if action is None else action.at_s

    def rel(self, at_s: float | None) -> str:
        """`+1m30s` since injection, or `never`."""
        offset = since(self.evidence, at_s)
        if offset is None:
            return "never"
        return f"{'-' if offset < 0 else '+'}{format_duration(abs(offset))}"


def see(practical: Practical, variant: str, evidence: Evidence, policy: GradingPolicy) -> Seen:
    """Match every checkpoint of the variant against the actions of the window."""
    actions = tuple(evidence.in_window())
    checkpoints = practical.checkpoints_for(variant)
    first: dict[str, Action] = {}
    blind: dict[str, str] = {}
    for checkpoint in checkpoints:  # in catalogue order: `seen_after` names earlier ones
        found = _first_match(checkpoint, _candidates(checkpoint, actions, first), evidence.names)
        if found is not None:
            first[checkpoint.id] = found
            continue
        gaps = [
            evidence.missing[m.source] for m in checkpoint.matchers if m.source in evidence.missing
        ]
        if gaps:
            blind[checkpoint.id] = "; ".join(dict.fromkeys(gaps))
    return Seen(practical, variant, evidence, policy, actions, checkpoints, first, blind)


def _candidates(
    checkpoint: Checkpoint, actions: tuple[Action, ...], first: Mapping[str, Action]
) -> tuple[Action, ...]:
    """The actions that can show `checkpoint`: all, or those after its `seen_after` steps.

    A step only counts once the steps it verifies were taken (`rollout status` after the undo):
    strictly later, and not at all while one of them was never seen.
    """
    if not checkpoint.seen_after:
        return actions
    if any(name not in first for name in checkpoint.seen_after):
        return ()
    since = max(first[name].at_s for name in checkpoint.seen_after)
    return tuple(a for a in actions if a.at_s > since)


def _first_match(
    checkpoint: Checkpoint, actions: Iterable[Action], names: Mapping[str, str]
) -> Action | None:
    return next((a for a in actions if any(m.matches(a, names) for m in checkpoint.matchers)), None)


def _result(
    criterion: Criterion,
    rule: str,
    verdicts: Iterable[Verdict],
    reasons: Iterable[str],
    evidence: Iterable[str] = (),
) -> CriterionResult:
    return CriterionResult(criterion, combine(verdicts), rule, tuple(reasons), tuple(evidence))


def judge_outcome(seen: Seen) -> CriterionResult:
    """Outcome: the service recovered and held steady for the stability window."""
    rule = "steady state held for the stability window at the end"
    outcome = seen.evidence.outcome
    if outcome is None or outcome.held is None:
        detail = outcome.detail if outcome else "no steady-state result was recorded"
        return _result(Criterion.OUTCOME, rule, [Verdict.COULD_NOT_VERIFY], [detail])
    if outcome.held:
        return _result(Criterion.OUTCOME, rule, [Verdict.PASS], [], [outcome.detail])
    reason = f"steady state did not hold: {outcome.detail or 'no detail'}"
    return _result(Criterion.OUTCOME, rule, [Verdict.FAIL], [reason])


def judge_objectives(seen: Seen) -> CriterionResult:
    """Objectives: measured RTO/RPO from the journal within the service's targets."""
    rule = "journal RTO/RPO within the service's targets (RUNBOOKS.md §2.1)"
    results = seen.evidence.objectives
    if not results:
        reason = "the journal holds no RTO/RPO for this run"
        return _result(Criterion.OBJECTIVES, rule, [Verdict.COULD_NOT_VERIFY], [reason])
    return _result(
        Criterion.OBJECTIVES,
        rule,
        [o.verdict for o in results],
        [o.summary() for o in results if o.verdict is not Verdict.PASS],
        [o.summary() for o in results],
    )


def judge_steps(seen: Seen) -> CriterionResult:
    """Steps: every required checkpoint of the variant seen on the evidence."""
    rule = "every required runbook step seen in the audit/statement/request logs"
    verdicts, reasons, lines = [], [], []
    names = seen.evidence.names
    for c in (c for c in seen.checkpoints if c.required):
        action = seen.first.get(c.id)
        if action is not None:
            verdicts.append(Verdict.PASS)
            lines.append(f"{c.id} at {seen.rel(action.at_s)}: {action.detail}")
        elif c.id in seen.blind:
            verdicts.append(Verdict.COULD_NOT_VERIFY)
            step = fill(c.step, names)
            reasons.append(f"cannot tell whether {c.id} ({step}) was done: {seen.blind[c.id]}")
        else:
            verdicts.append(Verdict.FAIL)
            expected = " or ".join(m.describe(names) for m in c.matchers)
            if c.seen_after:
                expected += f", after {' and '.join(c.seen_after)}"
            reasons.append(f"step missing: {c.id} ({fill(c.step, names)}); expected {expected}")
    if not verdicts:
        reasons.append("the practical names no required step for this variant")
    return _result(Criterion.STEPS, rule, verdicts or [Verdict.COULD_NOT_VERIFY], reasons, lines)


def judge_order(seen: Seen) -> CriterionResult:
    """Order: each step's first action after the first action of every step it follows."""
    marked = [(c, d) for c in seen.checkpoints for d in c.after if _in(seen, d)]
    rule = "marked steps in runbook order: " + (
        ", ".join(f"{d} → {c.id}" for c, d in marked) or "none marked for this variant"
    )
    verdicts, reasons = [Verdict.PASS], []
    for checkpoint, before in marked:
        this_at, before_at = seen.at(checkpoint.id), seen.at(before)
        if this_at is not None and before_at is not None:
            if this_at < before_at:
                verdicts.append(Verdict.FAIL)
                reasons.append(
                    f"{checkpoint.id} ({seen.rel(this_at)}) came before {before} "
                    f"({seen.rel(before_at)}); the runbook does {before} first"
                )
        elif checkpoint.id in seen.blind or before in seen.blind:
            verdicts.append(Verdict.COULD_NOT_VERIFY)
            reasons.append(f"cannot order {before} → {checkpoint.id}: evidence missing")
    return _result(Criterion.ORDER, rule, verdicts, reasons)


def _in(seen: Seen, checkpoint_id: str) -> bool:
    return any(c.id == checkpoint_id for c in seen.checkpoints)


def judge_escalation(seen: Seen) -> CriterionResult:
    """Escalation: the next level paged by each mark the incident was still unresolved at."""
    policy, ev = seen.policy, seen.evidence
    rule = "page level N by its mark when still unresolved: " + (
        ", ".join(
            f"level {m.level} at {format_duration(policy.scaled(m.after_s))}"
            for m in policy.escalation
        )
        or "no marks"
    )
    pages = [(_level(a.name), a) for a in seen.trainee(TraineeVerb.PAGE)]
    verdicts, reasons, lines = [Verdict.PASS], [], [a.detail for _, a in pages]
    for mark in policy.escalation:
        mark_at = ev.injected_at_s + policy.scaled(mark.after_s)
        deadline = mark_at + policy.scaled(policy.escalation_grace_s)
        paged = any(level >= mark.level and a.at_s <= deadline for level, a in pages)
        resolved = ev.resolved_at_s
        if paged or (resolved is not None and resolved <= mark_at) or ev.finished_at_s < mark_at:
            continue
        if resolved is None:
            verdicts.append(Verdict.COULD_NOT_VERIFY)
            reasons.append(
                f"level {mark.level} was not paged by {seen.rel(deadline)} and the journal does "
                "not say whether the incident was resolved by then"
            )
        else:
            verdicts.append(Verdict.FAIL)
            reasons.append(
                f"still unresolved at {seen.rel(mark_at)} (resolved {seen.rel(resolved)}) and "
                f"level {mark.level} was not paged by {seen.rel(deadline)}"
            )
    return _result(Criterion.ESCALATION, rule, verdicts, reasons, lines)


def _level(name: str) -> int:
    try:
        return int(name)
    except ValueError:
        return 0


def judge_safety(seen: Seen) -> CriterionResult:
    """Safety: no hazardous action (RUNBOOKS.md §5.2), unless its remedy followed."""
    hazards = seen.practical.hazards
    rule = "none of: " + ("; ".join(h.id for h in hazards) or "no hazard listed")
    verdicts, reasons, lines = [Verdict.PASS], [], []
    names = seen.evidence.names
    for hazard in hazards:
        hit = next((a for a in seen.actions if hazard.matcher.matches(a, names)), None)
        if hit is None:
            continue
        remedy = hazard.remedy
        fixed = remedy is not None and any(
            a.at_s >= hit.at_s and remedy.matches(a, names) for a in seen.actions
        )
        lines.append(hit.detail)
        if not fixed:
            verdicts.append(Verdict.FAIL)
            reasons.append(f"hazardous action {hazard.id} at {seen.rel(hit.at_s)}: {hazard.why}")
    blind = sorted(s for s in seen.practical.sources(seen.variant) if s in seen.evidence.missing)
    if blind and len(verdicts) == 1:
        verdicts.append(Verdict.COULD_NOT_VERIFY)
        reasons += [f"cannot see {s} actions: {seen.evidence.missing[s]}" for s in blind]
    return _result(Criterion.SAFETY, rule, verdicts, reasons, lines)


def phase_done_at(seen: Seen, phase: Phase) -> tuple[float | None, str]:
    """When a phase's required steps were all done (epoch s), and how that was decided."""
    if phase is Phase.RESOLVE and seen.evidence.resolved_at_s is not None:
        return seen.evidence.resolved_at_s, "journal: steady state held again"
    steps = [c for c in seen.checkpoints if c.required and c.phase is phase]
    if not steps:
        return None, "no required step in this phase"
    times = [seen.at(c.id) for c in steps]
    if any(t is None for t in times):
        return None, "a required step of this phase was not seen"
    return max(t for t in times if t is not None), f"last of {', '.join(c.id for c in steps)}"
