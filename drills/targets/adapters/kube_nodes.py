"""Nodes, the eviction API and PodDisruptionBudgets over the official client (RUNBOOKS.md §3.13).

`KubeNodes` is what `kubectl get nodes`, `describe node`, `cordon`, `uncordon` and `drain` use:
the Node objects (cluster-scoped), the pods bound to a node (listed in the profile's namespace
only: the drill evicts nothing outside the namespace it is allowed to touch, where a real
`kubectl drain` would evict every namespace's pods) and the eviction subresource, whose refusal
(HTTP 429 while a PodDisruptionBudget allows no disruption) is returned as data with the API
server's own words, not retried away. `KubeDisruptionBudgets` creates, reads and deletes
`policy/v1` PodDisruptionBudgets.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from drills.core.errors import DrillError
from drills.targets.adapters.kube import KubeApi, _call, _translate
from drills.targets.ports.nodes import BudgetState, EvictionAnswer, NodePod, NodeState

try:
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    from kubernetes.utils import parse_quantity
except ImportError as exc:  # pragma: no cover - depends on the installed extra
    raise ImportError(
        "the Kubernetes adapter needs the k8s extra: pip install 'drills[k8s]'"
    ) from exc

__all__ = ["KubeDisruptionBudgets", "KubeNodes", "eviction_refusal"]

_MIRROR = "kubernetes.io/config.mirror"
_MI = Decimal(1024 * 1024)


def _cpu_m(value: Any) -> int:
    return int(parse_quantity(value) * 1000) if value is not None else 0


def _memory_mi(value: Any) -> int:
    return int(parse_quantity(value) / _MI) if value is not None else 0


def _node_state(node: Any) -> NodeState:
    conditions = (node.status.conditions or []) if node.status else []
    ready = next((str(c.status) for c in conditions if c.type == "Ready"), "Unknown")
    taints = tuple(f"{t.key}:{t.effect}" for t in (node.spec.taints or []))
    allocatable = (node.status.allocatable or {}) if node.status else {}
    return NodeState(
        name=str(node.metadata.name),
        ready=ready,
        unschedulable=bool(node.spec.unschedulable),
        taints=taints,
        allocatable_cpu_m=_cpu_m(allocatable.get("cpu")),
        allocatable_memory_mi=_memory_mi(allocatable.get("memory")),
    )


def _requests(pod: Any) -> tuple[int, int]:
    cpu = memory = 0
    for container in pod.spec.containers or []:
        requests = (container.resources.requests or {}) if container.resources else {}
        cpu += _cpu_m(requests.get("cpu"))
        memory += _memory_mi(requests.get("memory"))
    return cpu, memory


def _node_pod(pod: Any) -> NodePod:
    owners = pod.metadata.owner_references or []
    daemon = any(o.kind == "DaemonSet" for o in owners)
    mirror = _MIRROR in (pod.metadata.annotations or {})
    cpu, memory = _requests(pod)
    return NodePod(
        namespace=str(pod.metadata.namespace),
        name=str(pod.metadata.name),
        labels=tuple(sorted((pod.metadata.labels or {}).items())),
        cpu_request_m=cpu,
        memory_request_mi=memory,
        mirror_or_daemon=daemon or mirror,
        deleting=pod.metadata.deletion_timestamp is not None,
    )


def eviction_refusal(body: str) -> str:
    """The API server's refusal text: its message, then each cause's (the budget's own words)."""
    try:
        status = json.loads(body)
    except ValueError:
        return body.strip()
    if not isinstance(status, dict):
        return body.strip()
    causes = (status.get("details") or {}).get("causes") or []
    said = [str(status.get("message", "")).strip()]
    said += [str(c.get("message", "")).strip() for c in causes if isinstance(c, dict)]
    return " ".join(part for part in said if part)


class KubeNodes:
    """The Nodes port: Node objects, and the pods of `namespace` bound to a node."""

    def __init__(self, api: KubeApi, namespace: str) -> None:
        self.api, self.namespace = api, namespace

    def nodes(self) -> list[NodeState]:
        """Every node, by name."""
        listed = _call("list nodes", lambda: self.api.core.list_node())
        return sorted((_node_state(n) for n in listed.items), key=lambda n: n.name)

    def node(self, name: str) -> NodeState:
        """One node; DrillError (404) when there is none."""
        return _node_state(_call(f"read node {name}", lambda: self.api.core.read_node(name)))

    def set_unschedulable(self, name: str, *, unschedulable: bool) -> None:
        """`kubectl cordon` / `uncordon`: patch spec.unschedulable."""
        body = {"spec": {"unschedulable": unschedulable}}
        verb = "cordon" if unschedulable else "uncordon"
        _call(f"{verb} node {name}", lambda: self.api.core.patch_node(name, body))

    def pods_on(self, name: str) -> list[NodePod]:
        """The pods of the namespace bound to node `name`."""
        listed = _call(
            f"list pods on node {name}",
            lambda: self.api.core.list_namespaced_pod(
                self.namespace, field_selector=f"spec.nodeName={name}"
            ),
        )
        return sorted((_node_pod(p) for p in listed.items), key=lambda p: p.name)

    def evict(self, namespace: str, pod: str) -> EvictionAnswer:
        """POST the eviction; a refusal (429) or a gone pod (404) is an answer, not an error."""
        body = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=namespace))
        try:
            self.api.core.create_namespaced_pod_eviction(pod, namespace, body)
        except ApiException as exc:
            if exc.status == 429:
                return EvictionAnswer(
                    accepted=False,
                    status=429,
                    message=eviction_refusal(str(exc.body or exc.reason)),
                )
            if exc.status == 404:
                return EvictionAnswer(
                    accepted=True, status=404, message=f"pod {namespace}/{pod} is already gone"
                )
            raise _translate(exc, f"evict pod {namespace}/{pod}") from exc
        return EvictionAnswer(accepted=True, status=201, message=f"pod {namespace}/{pod} evicted")


class KubeDisruptionBudgets:
    """The DisruptionBudgets port on `policy/v1` PodDisruptionBudgets of one namespace."""

    def __init__(self, api: KubeApi, namespace: str) -> None:
        self.namespace = namespace
        self.policy = client.PolicyV1Api(api.core.api_client)

    def create(self, name: str, selector: dict[str, str], *, min_available: int) -> None:
        """Create the budget (`minAvailable` pods of `selector` must stay available)."""
        body = {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "drills"}},
            "spec": {"minAvailable": min_available, "selector": {"matchLabels": selector}},
        }
        _call(
            f"create pdb/{name}",
            lambda: self.policy.create_namespaced_pod_disruption_budget(self.namespace, body),
        )

    def delete(self, name: str) -> bool:
        """Delete the budget; False when it was not there."""
        try:
            _call(
                f"delete pdb/{name}",
                lambda: self.policy.delete_namespaced_pod_disruption_budget(name, self.namespace),
            )
        except DrillError as exc:
            if "HTTP 404" in str(exc):
                return False
            raise
        return True

    def state(self, name: str) -> BudgetState | None:
        """The budget's spec and status; None when there is none."""
        try:
            pdb = _call(
                f"read pdb/{name}",
                lambda: self.policy.read_namespaced_pod_disruption_budget(name, self.namespace),
            )
        except DrillError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise
        status = pdb.status
        return BudgetState(
            name=name,
            min_available=int(pdb.spec.min_available or 0),
            current_healthy=int(getattr(status, "current_healthy", 0) or 0),
            desired_healthy=int(getattr(status, "desired_healthy", 0) or 0),
            disruptions_allowed=int(getattr(status, "disruptions_allowed", 0) or 0),
            expected_pods=int(getattr(status, "expected_pods", 0) or 0),
        )
