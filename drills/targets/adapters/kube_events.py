"""Which Kubernetes events are about a Deployment: select by involvedObject and ownership.

A name prefix (`shop-`) also picks up a Secret `shop-database`, a Deployment `shop-worker` and
its pods. The family of a Deployment is the Deployment itself, the ReplicaSets whose
ownerReferences name its uid, and the pods those ReplicaSets own; an event belongs to the
family when its involvedObject (kind, name and, when set, uid) is one of them. A pod that is
already gone is matched by the name its ReplicaSet gave it (`<replicaset>-<suffix>`).
Pure functions over client models (anything with the same attributes), so unit tests need no
cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from drills.targets.ports.workload import WorkloadEvent

__all__ = ["family_events"]


def family_events(
    deployment: Any, replicasets: Iterable[Any], pods: Iterable[Any], events: Iterable[Any]
) -> list[WorkloadEvent]:
    """The events about `deployment`, the ReplicaSets it owns and their pods, in list order."""
    family = _Family.of(deployment, list(replicasets), list(pods))
    return [
        WorkloadEvent(
            reason=str(e.reason or ""),
            message=str(e.message or ""),
            object_name=str(e.involved_object.name),
            type=str(e.type or "Normal"),
            count=int(e.count or 1),
        )
        for e in events
        if family.involves(e.involved_object)
    ]


@dataclass(frozen=True)
class _Family:
    """A Deployment, the ReplicaSets it owns and their pods, by (kind, name) -> uid."""

    deployment: tuple[str, str]
    replicasets: dict[str, str]
    pods: dict[str, str]

    @classmethod
    def of(cls, deployment: Any, replicasets: list[Any], pods: list[Any]) -> _Family:
        """Read the family from client models: owned ReplicaSets and the pods they own."""
        uid = deployment.metadata.uid
        owned = {
            str(rs.metadata.name): str(rs.metadata.uid or "")
            for rs in replicasets
            if any(o.uid == uid for o in rs.metadata.owner_references or [])
        }
        owners = set(owned.values())
        children = {
            str(p.metadata.name): str(p.metadata.uid or "")
            for p in pods
            if any(o.uid in owners for o in p.metadata.owner_references or [])
        }
        meta = deployment.metadata
        return cls((str(meta.name), str(meta.uid or "")), owned, children)

    def involves(self, obj: Any) -> bool:
        """True when an event's involvedObject is one of the family."""
        kind, name, uid = str(obj.kind or ""), str(obj.name or ""), str(obj.uid or "")
        if kind == "Deployment":
            return _same(name, uid, {self.deployment[0]: self.deployment[1]})
        if kind == "ReplicaSet":
            return _same(name, uid, self.replicasets)
        if kind != "Pod":
            return False
        if name in self.pods:
            return _same(name, uid, self.pods)
        return any(_pod_of(name, rs) for rs in self.replicasets)


def _same(name: str, uid: str, known: dict[str, str]) -> bool:
    """`name` is known and, when both uids are set, the uid matches (not a namesake)."""
    return name in known and (not uid or not known[name] or uid == known[name])


def _pod_of(pod: str, replicaset: str) -> bool:
    """A pod name the ReplicaSet generates: `<replicaset>-<suffix>`, the suffix without '-'."""
    suffix = pod.removeprefix(f"{replicaset}-")
    return suffix != pod and bool(suffix) and "-" not in suffix
