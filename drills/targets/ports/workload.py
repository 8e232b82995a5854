"""Port for a Kubernetes workload (a Deployment and its pods), as drills see it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["DeploymentObject", "PodState", "Workload", "WorkloadEvent"]


@dataclass(frozen=True)
class PodState:
    """What a drill needs to know about one pod."""

    name: str
    phase: str
    ready: bool
    restarts: int = 0
    waiting_reason: str = ""
    last_terminated_reason: str = ""
    node: str = ""
    ip: str = ""
    deleting: bool = False


@dataclass(frozen=True)
class WorkloadEvent:
    """A Kubernetes event about the workload or one of its pods."""

    reason: str
    message: str
    object_name: str
    type: str = "Normal"
    count: int = 1


class Workload(Protocol):
    """A Deployment-like workload: pods, replicas, revisions, and the runbook's kubectl verbs."""

    namespace: str
    name: str

    def pods(self) -> list[PodState]:
        """Current pods selected by the workload's label selector."""
        ...

    def desired_replicas(self) -> int:
        """spec.replicas of the workload."""
        ...

    def ready_replicas(self) -> int:
        """status.readyReplicas (0 when absent)."""
        ...

    def ready_endpoints(self) -> int:
        """Ready addresses the workload's Service lists (what user traffic can reach)."""
        ...

    def delete_pod(self, name: str, *, grace_period_s: int | None = None) -> None:
        """Delete one pod; grace 0 forces it (`kubectl delete pod --grace-period=0 --force`)."""
        ...

    def scale(self, replicas: int) -> None:
        """Set spec.replicas through the scale subresource (`kubectl scale`)."""
        ...

    def revision(self) -> int:
        """The Deployment's current revision (annotation deployment.kubernetes.io/revision)."""
        ...

    def container_image(self) -> str:
        """Image of the first container of the pod template."""
        ...

    def set_image(self, image: str) -> None:
        """Roll out a new image for the first container (`kubectl set image`)."""
        ...

    def container_env(self, name: str) -> str | None:
        """The literal value of env var `name` in the first container (None: not set)."""
        ...

    def set_env(self, name: str, value: str | None) -> None:
        """Set (or with None remove) env var `name` of the first container (`kubectl set env`)."""
        ...

    def set_envs(self, values: Mapping[str, str | None]) -> None:
        """Set (None: remove) several env vars of the first container in one patch, so one rollout.

        `kubectl set env deployment/NAME A=1 B=2`: a release that changes two settings is one
        revision, and `rollout undo` takes both back.
        """
        ...

    def container_secret_key(self, name: str) -> str | None:
        """The Secret key env var `name` of the first container reads (None: not from a Secret)."""
        ...

    def set_container_secret_key(self, name: str, key: str) -> None:
        """Make env var `name` (already read from a Secret) read `key` of the same Secret."""
        ...

    def rollout_undo(self) -> int:
        """Roll back to the previous revision as `kubectl rollout undo` does; returns its number."""
        ...

    def rollout_restart(self) -> str:
        """Replace every pod with a rolling update (`kubectl rollout restart`); return the stamp.

        The runbook's way to reset the connection pools a service holds (RUNBOOKS.md §3.5 step 3).
        """
        ...

    def events(self) -> list[WorkloadEvent]:
        """Events about the workload, its ReplicaSets and their pods (by involvedObject)."""
        ...


class DeploymentObject(Protocol):
    """The Deployment as an object a fault may delete and a recovery re-create (RUNBOOKS §3.2).

    A manifest is what `kubectl apply` would take: apiVersion, kind, metadata (name, labels,
    annotations) and spec as the API server holds them; no status, no server-set fields.
    """

    namespace: str
    name: str

    def manifest(self) -> dict[str, Any] | None:
        """The Deployment as it is now; None when it does not exist."""
        ...

    def delete(self) -> None:
        """Delete it, its ReplicaSets and pods following (`kubectl delete deployment NAME`)."""
        ...

    def restore(self, manifest: Mapping[str, Any]) -> None:
        """Create it from `manifest`, or put the manifest's spec back if it exists with another.

        `kubectl apply -f deployment.yaml`: the name is the object's own, the namespace its.
        """
        ...
