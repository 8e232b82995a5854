"""Kubernetes adapter for the MemoryLimits port: pods' limits and OOM kills, `kubectl top`.

Same client and error handling as `kube.KubeWorkload` (`_call` retries transient failures), so it
works on the sandbox (whose node agent writes OOM kills into pod status as a kubelet does) and on
a real cluster. Usage comes from the metrics API (`metrics.k8s.io/v1beta1` PodMetrics, what
`kubectl top pods` reads), served by metrics-server on both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from drills.core.errors import DrillError
from drills.core.memory import (
    ContainerMemory,
    MemoryReading,
    containers_of,
    memory_bytes,
    readings_of,
)
from drills.targets.adapters.kube import (
    KubeApi,
    KubeWorkload,
    _call,
    pod_selector,
    read_deployment,
)
from drills.targets.adapters.kube_rollout import pod_template_from
from drills.targets.ports.memory import MetricsUnavailable

try:
    from kubernetes import client
except ImportError as exc:  # pragma: no cover - depends on the installed extra
    raise ImportError("the memory adapter needs the k8s extra: pip install 'drills[k8s]'") from exc

__all__ = ["KubeMemory"]

_METRICS = ("metrics.k8s.io", "v1beta1")


class KubeMemory:
    """The MemoryLimits port for Deployment `name` in `namespace`."""

    def __init__(self, api: KubeApi, namespace: str, name: str) -> None:
        self.api, self.namespace, self.name = api, namespace, name

    @classmethod
    def of(cls, workload: KubeWorkload) -> KubeMemory:
        """The memory view of the Deployment a KubeWorkload drives (same client, same names)."""
        return cls(workload.api, workload.namespace, workload.name)

    def _deployment(self) -> Any:
        return read_deployment(self.api, self.namespace, self.name)

    def _selector(self) -> str:
        return pod_selector(self._deployment())

    def _serialise(self, model: Any) -> Any:
        return self.api.apps.api_client.sanitize_for_serialization(model)

    def containers(self) -> list[ContainerMemory]:
        """Each selected pod's containers: limit from its spec, ends from its status."""
        selector = self._selector()
        listed = _call(
            f"list pods {selector}",
            lambda: self.api.core.list_namespaced_pod(self.namespace, label_selector=selector),
        )
        found = [c for pod in listed.items for c in containers_of(self._serialise(pod))]
        return sorted(found, key=lambda c: (c.pod, c.container))

    def top(self) -> list[MemoryReading]:
        """PodMetrics of the selected pods; MetricsUnavailable when the API does not answer."""
        selector = self._selector()
        custom = client.CustomObjectsApi(self.api.apps.api_client)
        try:
            listed = _call(
                "list pods.metrics.k8s.io (kubectl top pods)",
                lambda: custom.list_namespaced_custom_object(
                    *_METRICS, self.namespace, "pods", label_selector=selector
                ),
            )
        except DrillError as exc:
            raise MetricsUnavailable(str(exc)) from exc
        items = listed.get("items", []) if isinstance(listed, dict) else []
        return [r for item in items for r in readings_of(item)]

    def template_limits(self) -> dict[str, int | None]:
        """Container -> limits.memory in bytes in the Deployment's pod template now."""
        containers = self._deployment().spec.template.spec.containers
        return {str(c.name): _limit_of(c) for c in containers}

    def set_memory_limit(self, container: str, quantity: str) -> tuple[str, ...]:
        """Strategic-merge patch of limits.memory on the named container, if there is one."""
        if container not in self.template_limits():
            return ()
        resources = {"limits": {"memory": quantity}}
        self._patch_container(container, {"resources": resources}, f"set resources {quantity}")
        return (container,)

    def release(self, container: str, *, env: Mapping[str, str], memory_limit: str) -> None:
        """One patch: the env vars set and limits.memory; a larger request is lowered to it.

        The API server refuses a request above the limit, so a release with a smaller limit
        also brings the memory request down to it.
        """
        found = self._template_container(container)
        resources: dict[str, dict[str, str]] = {"limits": {"memory": memory_limit}}
        requests = (found.resources.requests or {}) if found.resources else {}
        if "memory" in requests and memory_bytes(requests["memory"]) > memory_bytes(memory_limit):
            resources["requests"] = {"memory": memory_limit}
        change = {"env": [{"name": k, "value": v} for k, v in env.items()], "resources": resources}
        self._patch_container(container, change, "roll out the leaking release")

    def template(self) -> str:
        """spec.template, canonical JSON."""
        found = self._deployment().spec.template
        return pod_template_from(self.api.apps.api_client, found).canonical

    def restore_template(self, template: str) -> bool:
        """JSON-patch spec.template back to `template` (as `rollout undo` does), if it differs."""
        if self.template() == template:
            return False
        body = [{"op": "replace", "path": "/spec/template", "value": json.loads(template)}]
        _call(
            f"restore the pod template of deployment/{self.name}",
            lambda: self.api.apps.patch_namespaced_deployment(self.name, self.namespace, body),
        )
        return True

    def _template_container(self, container: str) -> Any:
        containers = self._deployment().spec.template.spec.containers
        found = next((c for c in containers if c.name == container), None)
        if found is None:
            names = ", ".join(str(c.name) for c in containers)
            raise DrillError(
                f"deployment/{self.name} has no container named {container!r} ({names}); "
                "name one of those"
            )
        return found

    def _patch_container(self, container: str, change: dict[str, Any], what: str) -> None:
        body = {"spec": {"template": {"spec": {"containers": [{"name": container, **change}]}}}}
        _call(
            f"{what} on deployment/{self.name}",
            lambda: self.api.apps.patch_namespaced_deployment(self.name, self.namespace, body),
        )


def _limit_of(container: Any) -> int | None:
    limits = (container.resources.limits or {}) if container.resources else {}
    return memory_bytes(limits["memory"]) if "memory" in limits else None
