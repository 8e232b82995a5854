"""Kubernetes adapter for the Rollout port: a Deployment's rollout state and previous pod logs.

Same client and error handling as `kube.KubeWorkload` (`_call` retries transient failures), so
it works on the sandbox and on a real cluster alike.
"""

from __future__ import annotations

from typing import Any

from drills.targets.adapters.kube import KubeApi, KubeWorkload, _call
from drills.targets.ports.rollout import PodTemplate, RolloutStatus

try:
    from kubernetes.client.rest import ApiException
except ImportError as exc:  # pragma: no cover - depends on the installed extra
    raise ImportError("the rollout adapter needs the k8s extra: pip install 'drills[k8s]'") from exc

__all__ = ["KubeRollout", "pod_template_from", "rollout_status_from"]

_REVISION = "deployment.kubernetes.io/revision"
_BAD_REQUEST = 400  # a container with no previous run: the API answers 400 to --previous
_TEMPLATE_HASH = "pod-template-hash"  # the controller's label on a ReplicaSet's copy


class KubeRollout:
    """The Rollout port for Deployment `name` in `namespace`."""

    def __init__(self, api: KubeApi, namespace: str, name: str) -> None:
        self.api, self.namespace, self.name = api, namespace, name

    @classmethod
    def of(cls, workload: KubeWorkload) -> KubeRollout:
        """The rollout of the Deployment a KubeWorkload drives (same client, same names)."""
        return cls(workload.api, workload.namespace, workload.name)

    def rollout_status(self) -> RolloutStatus:
        """Read the Deployment once and summarise its rollout."""
        found = _call(
            f"read deployment/{self.name}",
            lambda: self.api.apps.read_namespaced_deployment(self.name, self.namespace),
        )
        return rollout_status_from(found)

    def pod_template(self) -> PodTemplate:
        """The Deployment's spec.template, canonical (the controller's hash label removed)."""
        found = _call(
            f"read deployment/{self.name}",
            lambda: self.api.apps.read_namespaced_deployment(self.name, self.namespace),
        )
        return pod_template_from(self.api.apps.api_client, found.spec.template)

    def previous_log(self, pod: str, *, tail_lines: int = 50) -> str:
        """The last `tail_lines` lines of the pod's previous container run ('' if none)."""

        def read() -> Any:
            try:
                response = self.api.core.read_namespaced_pod_log(
                    pod,
                    self.namespace,
                    previous=True,
                    tail_lines=tail_lines,
                    _preload_content=False,  # raw bytes: the client would str() them otherwise
                )
                return response.data.decode("utf-8", errors="replace")
            except ApiException as exc:
                if exc.status == _BAD_REQUEST:
                    return ""
                raise

        text = str(_call(f"read logs --previous of pod/{pod}", read) or "")
        lines = text.splitlines()
        return "\n".join(lines[-tail_lines:]) if tail_lines > 0 else text


def pod_template_from(api_client: Any, template: Any) -> PodTemplate:
    """A `V1PodTemplateSpec` as a PodTemplate, as `kubectl rollout undo` compares templates."""
    document = api_client.sanitize_for_serialization(template)
    labels = document.get("metadata", {}).get("labels", {})
    labels.pop(_TEMPLATE_HASH, None)
    return PodTemplate.of(document)


def rollout_status_from(deployment: Any) -> RolloutStatus:
    """Build a RolloutStatus from a `V1Deployment` model."""
    meta, spec, status = deployment.metadata, deployment.spec, deployment.status
    conditions = getattr(status, "conditions", None) or []
    progressing = next((c for c in conditions if c.type == "Progressing"), None)
    return RolloutStatus(
        generation=int(meta.generation or 0),
        observed_generation=int(getattr(status, "observed_generation", 0) or 0),
        replicas=int(spec.replicas if spec.replicas is not None else 1),
        updated=int(getattr(status, "updated_replicas", 0) or 0),
        total=int(getattr(status, "replicas", 0) or 0),
        available=int(getattr(status, "available_replicas", 0) or 0),
        revision=int((meta.annotations or {}).get(_REVISION, 0)),
        image=str(spec.template.spec.containers[0].image),
        paused=bool(spec.paused),
        progressing_reason=str(getattr(progressing, "reason", "") or ""),
    )
