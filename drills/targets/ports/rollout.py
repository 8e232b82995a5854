"""Port for a Deployment rollout, as `kubectl rollout status` and `logs --previous` see it.

The `crashloop-rollback` drill (RUNBOOKS.md §3.1) needs more than the Workload port gives: whether
the rollout has finished (every replica updated to the current template, no old pod left, all
available), which template it rolls towards, and the log of a container's previous run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

__all__ = ["PodTemplate", "Rollout", "RolloutStatus"]

_SHOWN_DIFFERENCES = 5


@dataclass(frozen=True)
class PodTemplate:
    """A Deployment's pod template as canonical JSON (sorted keys, controller labels removed).

    Two templates are the same release when their canonical texts are equal; `differences`
    names the paths that differ (e.g. `spec.containers[0].env[1].value`).
    """

    canonical: str

    @classmethod
    def of(cls, template: object) -> PodTemplate:
        """Canonicalise a JSON-ready template (dicts, lists and scalars)."""
        return cls(json.dumps(template, sort_keys=True, separators=(",", ":")))

    def differences(self, other: PodTemplate) -> list[str]:
        """Paths whose values differ between this template and `other` ([] when equal)."""
        return [path for path, _, _ in self._changes(other)]

    def describe_differences(self, other: PodTemplate) -> str:
        """The first few differing paths with both values, for a FAIL message."""
        changes = self._changes(other)
        shown = [f"{path}: {a!r} -> {b!r}" for path, a, b in changes[:_SHOWN_DIFFERENCES]]
        more = len(changes) - len(shown)
        return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")

    def _changes(self, other: PodTemplate) -> list[tuple[str, object, object]]:
        if self.canonical == other.canonical:
            return []
        return _changes(json.loads(self.canonical), json.loads(other.canonical), "")


def _changes(left: object, right: object, path: str) -> list[tuple[str, object, object]]:
    """(path, left value, right value) for every leaf that differs; None stands for absent."""
    if isinstance(left, dict) or isinstance(right, dict):  # an absent map names its leaves
        left, right = left if left is not None else {}, right if right is not None else {}
    if isinstance(left, dict) and isinstance(right, dict):
        keys = sorted(set(left) | set(right))
        return [c for k in keys for c in _changes(left.get(k), right.get(k), _key(path, k))]
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        pairs = enumerate(zip(left, right, strict=True))
        return [c for i, (a, b) in pairs for c in _changes(a, b, f"{path}[{i}]")]
    return [] if left == right else [(path or "(the whole template)", left, right)]


def _key(path: str, key: str) -> str:
    """`a.b`, or `a["x.y/z"]` for a key that is not a plain name (annotations, labels)."""
    if key.replace("_", "").isalnum():
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


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

    def pod_template(self) -> PodTemplate:
        """The Deployment's pod template now (what `rollout undo` must restore whole)."""
        ...
