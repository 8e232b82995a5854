"""A Deployment's `revisionHistoryLimit`: how many old ReplicaSets `rollout undo` can go back to.

Only the `error-rate-rollback` drill's defect switch uses it (fixtures/error_rate.py): with the
limit at 0 the controller deletes the previous ReplicaSet as soon as a rollout completes, so a
release that rolled out whole leaves `kubectl rollout undo` nothing to go back to.
"""

from __future__ import annotations

from drills.targets.adapters.kube import KubeWorkload, _call, read_deployment

__all__ = ["KubeRevisionHistory"]


class KubeRevisionHistory:
    """Read and set spec.revisionHistoryLimit of the workload's Deployment."""

    def __init__(self, workload: KubeWorkload) -> None:
        self.workload = workload

    def limit(self) -> int | None:
        """spec.revisionHistoryLimit as stored (None: unset, the API's default of 10 applies)."""
        deployment = read_deployment(self.workload.api, self.workload.namespace, self.workload.name)
        value = deployment.spec.revision_history_limit
        return None if value is None else int(value)

    def set_limit(self, limit: int | None) -> None:
        """Patch spec.revisionHistoryLimit (None: remove it, back to the default)."""
        body = {"spec": {"revisionHistoryLimit": limit}}
        name, namespace = self.workload.name, self.workload.namespace
        _call(
            f"set revisionHistoryLimit of deployment/{name}",
            lambda: self.workload.api.apps.patch_namespaced_deployment(name, namespace, body),
        )
