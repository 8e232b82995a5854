"""A drill that performs a practical's procedure itself, judged by the practical's own rules.

The `snapshot-restore` practical grades a trainee's [004] data-loss procedure (stop writes,
keep evidence, restore, restart) on the steps and their order. The automated variant
`data-loss-inplace` performs the same procedure, so it is judged by the same checkpoints and
the same `judge_steps` / `judge_order`: a second copy of the rules could drift from the one
trainees are graded by. The drill's own actions are written as the evidence readers would show
them (`ProcedureLog`: a kube patch of `deployments/scale`, a statement of a `pg_dump` session,
an S3 request), each stamped when the drill made the call; only the practical's STEPS and
ORDER criteria apply (the others grade a person: acknowledgement, notice, post-mortem).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from drills.core.actions import Action, Json, Source
from drills.core.criteria import judge_order, judge_steps, see
from drills.core.grade import CriterionResult, Evidence
from drills.core.objectives import Verdict, combine
from drills.core.practical import GradingPolicy, Practical

__all__ = ["ProcedureJudgement", "ProcedureLog", "judge_procedure"]

DRILL_ACTOR = "drills"  # who the actions are attributed to in the judgement's evidence lines


@dataclass
class ProcedureLog:
    """The drill's own actions, oldest first, shaped as the practical's matchers read them.

    `at_s` values are wall-clock epoch seconds, the clock the practical's evidence uses.
    """

    namespace: str
    deployment: str
    database: str
    actions: list[Action] = field(default_factory=list)

    def scaled(self, at_s: float, replicas: int) -> Action:
        """`kubectl scale deployment/<d> --replicas=N`: a patch of the scale subresource."""
        body: Json = {"spec": {"replicas": replicas}}
        return self._add(
            Action(
                at_s,
                Source.KUBE,
                DRILL_ACTOR,
                "patch",
                resource="deployments",
                name=self.deployment,
                namespace=self.namespace,
                subresource="scale",
                body=body,
                code=200,
                succeeded=True,
                summary=f"kubectl scale deployment/{self.deployment} --replicas={replicas}",
            )
        )

    def read_logs(self, at_s: float, pod: str) -> Action:
        """`kubectl logs <pod>`: a get of the pod's log subresource."""
        return self._add(
            Action(
                at_s,
                Source.KUBE,
                DRILL_ACTOR,
                "get",
                resource="pods",
                name=pod,
                namespace=self.namespace,
                subresource="log",
                code=200,
                succeeded=True,
                summary=f"kubectl logs {pod}",
            )
        )

    def statement(self, at_s: float, text: str, *, agent: str, succeeded: bool = True) -> Action:
        """A statement a PostgreSQL client sent (`agent`: pg_dump, pg_restore, drills)."""
        return self._add(
            Action(
                at_s,
                Source.SQL,
                DRILL_ACTOR,
                text.split(None, 1)[0].lower(),
                name=self.database,
                text=text,
                agent=agent,
                succeeded=succeeded,
            )
        )

    def s3(self, at_s: float, operation: str, key: str) -> Action:
        """An S3 request (`ListObjectsV2` for `aws s3 ls`, `GetObject` for `aws s3 cp`)."""
        return self._add(
            Action(at_s, Source.AWS, DRILL_ACTOR, operation, resource="s3", name=key, code=200)
        )

    def _add(self, action: Action) -> Action:
        self.actions.append(action)
        return action


@dataclass(frozen=True)
class ProcedureJudgement:
    """The practical's STEPS and ORDER criteria over the drill's own actions."""

    steps: CriterionResult
    order: CriterionResult

    @property
    def verdict(self) -> Verdict:
        """PASS only when both passed."""
        return combine((self.steps.verdict, self.order.verdict))

    def reasons(self) -> list[str]:
        """`order: ...` / `steps: ...` for each criterion that did not pass."""
        return [
            f"{r.criterion}: {reason}"
            for r in (self.order, self.steps)
            if r.verdict is not Verdict.PASS
            for reason in (r.reasons or ("no reason given",))
        ]


def judge_procedure(  # noqa: PLR0913 - the practical, its variant and the window, keyword-only
    practical: Practical,
    variant: str,
    log: ProcedureLog,
    *,
    injected_at_s: float,
    finished_at_s: float,
    names: Mapping[str, str] | None = None,
) -> ProcedureJudgement:
    """Judge the drill's actions between injection and finish by the practical's rules."""
    evidence = Evidence(
        injected_at_s=injected_at_s,
        finished_at_s=finished_at_s,
        actions=tuple(log.actions),
        names=dict(names or {"deployment": log.deployment, "namespace": log.namespace}),
    )
    seen = see(practical, variant, evidence, GradingPolicy())
    return ProcedureJudgement(steps=judge_steps(seen), order=judge_order(seen))
