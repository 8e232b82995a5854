"""Port for a Deployment rollout, as `kubectl rollout status` and `logs --previous` see it.

The `crashloop-rollback` drill (RUNBOOKS.md §3.1) needs more than the Workload port gives: whether
the rollout has finished (every replica updated to the current template, no old pod left, all
available), which template it rolls towards, and the log of a container's previous run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Rollout", "RolloutStatus"]


@dataclass(frozen=True)
class RolloutStatus:
    """One reading of a Deployment's spec and status, enough to judge a rollout."""

    generation: int
    observed_generation: int
    replicas: int  # spec.replicas
    updated: int  # status.updatedReplicas: pods of the current template
    total: int  # status.replicas: pods of every ReplicaSet, old ones included
    available: int  # status.availableReplicas
    revision: int
    image: str  # first container of the pod template
    paused: bool = False
    progressing_reason: str = ""  # e.g. NewReplicaSetAvailable, ProgressDeadlineExceeded

    @property
    def complete(self) -> bool:
        """True when `kubectl rollout status` would report the rollout done.

        The controller has seen the latest spec, every wanted replica runs the current template,
        no old replica is left, and all updated replicas are available.
        """
        return (
            not self.paused
            and self.observed_generation >= self.generation
            and self.updated == self.replicas
            and self.total == self.updated
            and self.available >= self.updated
        )

    def describe(self) -> str:
        """`2/3 updated, 4 total, 3 available (revision 5, shop:1.0.0)` style."""
        text = (
            f"{self.updated}/{self.replicas} updated, {self.total} total, "
            f"{self.available} available (revision {self.revision}, {self.image})"
        )
        if self.paused:
            text += ", paused"
        if self.observed_generation < self.generation:
            text += f", generation {self.generation} not yet observed"
        return text


class Rollout(Protocol):
    """What a drill reads about a Deployment's rollout."""

    namespace: str
    name: str

    def rollout_status(self) -> RolloutStatus:
        """The Deployment's spec and status now."""
        ...

    def previous_log(self, pod: str, *, tail_lines: int = 50) -> str:
        """The last lines of the previous run of the pod's first container (`logs --previous`)."""
        ...
