"""Grading a certification practical: one function, `grade`, over the evidence of one run.

The model (RUNBOOKS.md §4.2): a `Practical` of one drill has variants, a pager alert and
checkpoints, one per runbook recovery step, each recognised on the evidence by declarative
`Matcher`s. `grade(practical, variant, evidence, policy)` judges every criterion of §4.2 and
returns a `Grade`; the grade is PASS only when every criterion passed, and a criterion that
lacked its evidence is COULD_NOT_VERIFY, never PASS. Pure: no I/O; the readers that turn logs
into `Action`s live in `drills.certification.evidence`.
"""

from __future__ import annotations

from drills.core.actions import Action, BodyRule, BodyTest, Json, Matcher, Source, TraineeVerb
from drills.core.criteria import (
    judge_escalation,
    judge_objectives,
    judge_order,
    judge_outcome,
    judge_safety,
    judge_steps,
    see,
)
from drills.core.grade import (
    CheckpointTiming,
    Criterion,
    CriterionResult,
    Evidence,
    Grade,
    Outcome,
    PhaseTiming,
)
from drills.core.objectives import Verdict, combine
from drills.core.practical import (
    Checkpoint,
    EscalationMark,
    GradingPolicy,
    Hazard,
    PagerAlert,
    Phase,
    Practical,
    Variant,
)
from drills.core.response import (
    ack_s,
    checkpoint_timings,
    judge_communication,
    judge_postmortem,
    judge_timeliness,
    phase_timings,
)

__all__ = [
    "Action",
    "BodyRule",
    "BodyTest",
    "Checkpoint",
    "CheckpointTiming",
    "Criterion",
    "CriterionResult",
    "EscalationMark",
    "Evidence",
    "Grade",
    "GradingPolicy",
    "Hazard",
    "Json",
    "Matcher",
    "Outcome",
    "PagerAlert",
    "Phase",
    "PhaseTiming",
    "Practical",
    "Source",
    "TraineeVerb",
    "Variant",
    "Verdict",
    "grade",
]

_JUDGES = (
    judge_outcome,
    judge_objectives,
    judge_steps,
    judge_order,
    judge_timeliness,
    judge_escalation,
    judge_safety,
    judge_communication,
    judge_postmortem,
)


def grade(
    practical: Practical,
    variant: str,
    evidence: Evidence,
    policy: GradingPolicy | None = None,
) -> Grade:
    """Grade one run of `practical` in `variant` from `evidence`.

    Raises ConfigError for an unknown variant or a matcher placeholder the evidence's `names`
    do not fill. Never raises for missing evidence: that is COULD_NOT_VERIFY in the grade.
    """
    policy = policy or GradingPolicy()
    seen = see(practical, variant, evidence, policy)
    results = tuple(judge(seen) for judge in _JUDGES)
    return Grade(
        drill_id=practical.drill_id,
        variant=variant,
        trainee=evidence.trainee,
        verdict=combine(r.verdict for r in results),
        criteria=results,
        timings=checkpoint_timings(seen),
        phases=phase_timings(seen),
        ack_s=ack_s(seen),
        time_scale=policy.time_scale,
    )
