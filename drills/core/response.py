"""The criteria about how the trainee handled the incident: timeliness, communication, post-mortem.

Timeliness: acknowledged within 5 min, each step within its budget, each phase of the runbook
template within its budget (RUNBOOKS.md §2.1, §2.3). Communication: the notice has the template's
fields and the page's severity (`drills.core.notice`). Post-mortem: the trainee's timeline agrees
with what the evidence and the journal show (`drills.core.postmortem`), within the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.core.actions import Source, TraineeVerb, fill
from drills.core.criteria import Seen, phase_done_at
from drills.core.durations import format_duration
from drills.core.grade import (
    CheckpointTiming,
    Criterion,
    CriterionResult,
    PhaseTiming,
    since,
)
from drills.core.notice import check_notice
from drills.core.objectives import Verdict, combine
from drills.core.postmortem import TimelineEntry, parse_timeline
from drills.core.practical import Phase

__all__ = [
    "checkpoint_timings",
    "judge_communication",
    "judge_postmortem",
    "judge_timeliness",
    "phase_timings",
]


def checkpoint_timings(seen: Seen) -> tuple[CheckpointTiming, ...]:
    """Each step's first sighting against its budget, in runbook order."""
    names = seen.evidence.names
    rows = []
    for c in seen.checkpoints:
        action = seen.first.get(c.id)
        rows.append(
            CheckpointTiming(
                checkpoint=c.id,
                step=fill(c.step, names),
                phase=c.phase,
                required=c.required,
                budget_s=seen.policy.budget_s(c),
                seen_s=since(seen.evidence, action.at_s if action else None),
                evidence=action.detail if action else "",
                expected=" or ".join(m.describe(names) for m in c.matchers),
            )
        )
    return tuple(rows)


def phase_timings(seen: Seen) -> tuple[PhaseTiming, ...]:
    """When each phase of the runbook template was done, against its budget."""
    rows = []
    for phase in Phase:
        done_at, how = phase_done_at(seen, phase)
        budget = seen.policy.phase_budget_s(phase)
        rows.append(PhaseTiming(phase, since(seen.evidence, done_at), budget, how))
    return tuple(rows)


def ack_s(seen: Seen) -> float | None:
    """Seconds from injection to the first acknowledgement."""
    acks = seen.trainee(TraineeVerb.ACK)
    return since(seen.evidence, acks[0].at_s) if acks else None


def judge_timeliness(seen: Seen) -> CriterionResult:
    """Acknowledged in time; every seen step and every phase within its budget."""
    policy = seen.policy
    ack_budget = policy.scaled(policy.ack_within_s)
    rule = (
        f"ack within {format_duration(ack_budget)}; phases done within "
        + ", ".join(f"{p} {format_duration(policy.phase_budget_s(p))}" for p in Phase)
        + "; each step within its budget"
    )
    verdicts, reasons = [Verdict.PASS], []
    acked = ack_s(seen)
    if acked is None:
        verdicts.append(Verdict.FAIL)
        reasons.append("never acknowledged the page")
    elif acked > ack_budget:
        verdicts.append(Verdict.FAIL)
        reasons.append(
            f"acknowledged at +{format_duration(acked)}, budget {format_duration(ack_budget)}"
        )
    for row in checkpoint_timings(seen):
        if row.over_budget:
            verdicts.append(Verdict.FAIL)
            reasons.append(
                f"{row.checkpoint} at +{format_duration(row.seen_s)}, budget "
                f"{format_duration(row.budget_s)}"
            )
    for phase in phase_timings(seen):
        verdict, reason = _phase_verdict(phase)
        verdicts.append(verdict)
        reasons += [reason] if reason else []
    return CriterionResult(Criterion.TIMELINESS, combine(verdicts), rule, tuple(reasons))


def _phase_verdict(phase: PhaseTiming) -> tuple[Verdict, str]:
    if phase.done_s is None:
        if phase.how == "no required step in this phase":
            return Verdict.PASS, ""
        if phase.phase is Phase.RESOLVE:
            return Verdict.COULD_NOT_VERIFY, "the journal does not say when service was restored"
        return Verdict.PASS, ""  # a step never seen is the steps criterion's failure
    if phase.done_s > phase.budget_s:
        return Verdict.FAIL, (
            f"phase {phase.phase} done at +{format_duration(phase.done_s)}, budget "
            f"{format_duration(phase.budget_s)} ({phase.how})"
        )
    return Verdict.PASS, ""


def judge_communication(seen: Seen) -> CriterionResult:
    """The latest notice has every template field and the page's severity."""
    severity = seen.practical.alert_for(seen.variant).severity
    rule = (
        "notice with INCIDENT, SEVERITY, STATUS, ETA, IMPACT, ROOT CAUSE, MITIGATION "
        f"(000 § Communication Template); severity {severity}"
    )
    notices = seen.trainee(TraineeVerb.NOTICE)
    if not notices:
        return CriterionResult(
            Criterion.COMMUNICATION, Verdict.FAIL, rule, ("no incident notice was posted",)
        )
    latest = notices[-1]
    check = check_notice(latest.text, severity)
    verdict = Verdict.PASS if check.ok else Verdict.FAIL
    problems = check.problems()
    if check.severity_written is None and "severity" not in check.missing:
        problems.append("notice states no severity")
    return CriterionResult(
        Criterion.COMMUNICATION, verdict, rule, tuple(problems), (latest.detail,)
    )


@dataclass(frozen=True)
class _Window:
    """Where the evidence puts a timeline entry: between `lo` and `hi` (epoch s)."""

    lo: float | None
    hi: float | None
    source: str


def _truth(seen: Seen) -> dict[TimelineEntry, _Window]:
    ev = seen.evidence
    acks = seen.trainee(TraineeVerb.ACK)
    detected = [t for t in (ev.detected_at_s, acks[0].at_s if acks else None) if t is not None]
    investigation = _first_in(seen, Phase.DETECT)
    if investigation is None:  # no detect step seen: the trainee's first look at the system
        looked = (a.at_s for a in seen.actions if a.source is not Source.TRAINEE)
        investigation = min(looked, default=None)
    fix = _first_in(seen, Phase.MITIGATE)
    fixed_by = "first mitigation step"
    if fix is None and ev.mitigated_at_s is not None:  # healed without a hand (a ReplicaSet)
        fix, fixed_by = ev.mitigated_at_s, "journal: user-visible failures stopped"
    return {
        TimelineEntry.DETECTED: _Window(
            min(detected, default=None), max(detected, default=None), "alert / acknowledgement"
        ),
        TimelineEntry.INVESTIGATION_STARTED: _Window(
            investigation, investigation, "first investigation step or first look"
        ),
        TimelineEntry.ROOT_CAUSE_IDENTIFIED: _Window(
            investigation, fix, "between investigation and fix"
        ),
        TimelineEntry.FIX_APPLIED: _Window(fix, fix, fixed_by),
        TimelineEntry.SERVICE_RESTORED: _Window(
            ev.resolved_at_s, ev.resolved_at_s, "journal: steady state held again"
        ),
    }


def _first_in(seen: Seen, phase: Phase) -> float | None:
    times = [seen.at(c.id) for c in seen.checkpoints if c.phase is phase]
    return min((t for t in times if t is not None), default=None)


def judge_postmortem(seen: Seen) -> CriterionResult:
    """Every timeline entry present and within the tolerance of what the evidence shows."""
    tolerance = seen.policy.postmortem_tolerance_s
    rule = (
        "timeline (detected, investigation started, root cause identified, fix applied, "
        f"service restored) within {format_duration(tolerance)} of the evidence"
    )
    reports = seen.trainee(TraineeVerb.POSTMORTEM)
    if not reports:
        return CriterionResult(
            Criterion.POSTMORTEM, Verdict.FAIL, rule, ("no post-mortem was filed",)
        )
    parsed = parse_timeline(
        reports[-1].text, injected_at_s=seen.evidence.injected_at_s, tz=seen.policy.timeline_tz
    )
    verdicts, reasons = [Verdict.PASS], []
    for entry, window in _truth(seen).items():
        verdict, reason = _entry_verdict(seen, entry, parsed.times.get(entry), window, tolerance)
        verdicts.append(verdict)
        reasons += [reason] if reason else []
    reasons += [f"no time on the line {line!r}" for line in parsed.untimed]
    return CriterionResult(Criterion.POSTMORTEM, combine(verdicts), rule, tuple(reasons))


def _entry_verdict(
    seen: Seen, entry: TimelineEntry, written: float | None, window: _Window, tolerance: float
) -> tuple[Verdict, str]:
    if written is None:
        return Verdict.FAIL, f"the timeline lacks '{entry}'"
    if window.lo is None or window.hi is None:
        return Verdict.COULD_NOT_VERIFY, f"no evidence of when '{entry}' happened ({window.source})"
    lo, hi = min(window.lo, window.hi), max(window.lo, window.hi)
    off = max(lo - written, written - hi, 0.0)
    if off <= tolerance:
        return Verdict.PASS, ""
    shown = seen.rel(lo) if lo == hi else f"{seen.rel(lo)}..{seen.rel(hi)}"
    return Verdict.FAIL, (
        f"'{entry}' written as {seen.rel(written)}, evidence says {shown} ({window.source}): "
        f"off by {format_duration(off)}, tolerance {format_duration(tolerance)}"
    )
