"""The Nodes and DisruptionBudgets adapters over a stand-in client: what they send and read."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from kubernetes.client.rest import ApiException

from drills.targets.adapters.kube import KubeApi
from drills.targets.adapters.kube_nodes import KubeNodes, eviction_refusal

REFUSED = json.dumps(
    {
        "kind": "Status",
        "message": "Cannot evict pod as it would violate the pod's disruption budget.",
        "reason": "TooManyRequests",
        "details": {
            "causes": [
                {
                    "reason": "DisruptionBudget",
                    "message": "The disruption budget shop-drain-drill needs 3 healthy pods "
                    "and has 3 currently",
                }
            ]
        },
        "code": 429,
    }
)


def _node(name: str, *, cordoned: bool = False, ready: str = "True") -> Any:
    return SimpleNamespace(
        metadata=SimpleNamespace(name=name),
        spec=SimpleNamespace(
            unschedulable=cordoned,
            taints=[SimpleNamespace(key="node.kubernetes.io/unreachable", effect="NoExecute")]
            if ready != "True"
            else None,
        ),
        status=SimpleNamespace(
            conditions=[SimpleNamespace(type="Ready", status=ready)],
            allocatable={"cpu": "2", "memory": "4Gi"},
        ),
    )


def _pod(name: str, *, owner: str = "ReplicaSet") -> Any:
    container = SimpleNamespace(
        resources=SimpleNamespace(requests={"cpu": "500m", "memory": "512Mi"})
    )
    return SimpleNamespace(
        metadata=SimpleNamespace(
            name=name,
            namespace="default",
            labels={"app": "shop"},
            annotations=None,
            owner_references=[SimpleNamespace(kind=owner)],
            deletion_timestamp=None,
        ),
        spec=SimpleNamespace(containers=[container]),
    )


class _Core:
    def __init__(self, refuse: bool) -> None:
        self.refuse, self.calls = refuse, []  # type: ignore[var-annotated]

    def list_node(self) -> Any:
        return SimpleNamespace(items=[_node("b", ready="Unknown"), _node("a", cordoned=True)])

    def patch_node(self, name: str, body: Any) -> None:
        self.calls.append(("patch_node", name, body))

    def list_namespaced_pod(self, namespace: str, field_selector: str) -> Any:
        self.calls.append(("list_namespaced_pod", namespace, field_selector))
        return SimpleNamespace(items=[_pod("shop-1"), _pod("agent", owner="DaemonSet")])

    def create_namespaced_pod_eviction(self, name: str, namespace: str, body: Any) -> None:
        self.calls.append(("evict", namespace, name, body.metadata.name))
        if self.refuse:
            raise ApiException(status=429, reason="Too Many Requests")


def _nodes(*, refuse: bool = False) -> tuple[KubeNodes, _Core]:
    core = _Core(refuse)
    return KubeNodes(KubeApi(core=core, apps=None, autoscaling=None, context="c"), "default"), core


def test_nodes_read_as_kubectl_get_nodes_shows_them() -> None:
    nodes, _ = _nodes()
    a, b = nodes.nodes()
    assert a.describe() == "a Ready=True SchedulingDisabled"
    assert not a.schedulable
    assert b.describe() == "b Ready=Unknown taints=node.kubernetes.io/unreachable:NoExecute"
    assert (b.allocatable_cpu_m, b.allocatable_memory_mi) == (2000, 4096)


def test_cordon_patches_spec_unschedulable_and_pods_are_listed_in_the_namespace() -> None:
    nodes, core = _nodes()
    nodes.set_unschedulable("a", unschedulable=True)
    pods = nodes.pods_on("a")
    assert core.calls[0] == ("patch_node", "a", {"spec": {"unschedulable": True}})
    assert core.calls[1] == ("list_namespaced_pod", "default", "spec.nodeName=a")
    assert [(p.name, p.mirror_or_daemon) for p in pods] == [("agent", True), ("shop-1", False)]
    assert (pods[1].cpu_request_m, pods[1].memory_request_mi) == (500, 512)


def test_a_refused_eviction_is_an_answer_with_the_servers_words() -> None:
    nodes, core = _nodes()
    assert nodes.evict("default", "shop-1").accepted
    assert core.calls[-1] == ("evict", "default", "shop-1", "shop-1")
    refusing, _ = _nodes(refuse=True)
    answer = refusing.evict("default", "shop-1")
    assert (answer.accepted, answer.status) == (False, 429)
    assert eviction_refusal(REFUSED) == (
        "Cannot evict pod as it would violate the pod's disruption budget. The disruption "
        "budget shop-drain-drill needs 3 healthy pods and has 3 currently"
    )
    assert eviction_refusal("not json") == "not json"
