"""The sandbox API server through the official Kubernetes client, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, watch

from tests.sandbox.apiserver_fixtures import Cluster, deployment, start_cluster

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from start_cluster(Path(tmp_path_factory.mktemp("api")))


def _ready_pods(cluster: Cluster, app: str) -> int:
    pods = cluster.core.list_namespaced_pod("default", label_selector=f"app={app}").items
    return sum(
        1
        for p in pods
        if not p.metadata.deletion_timestamp
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    )


def test_crud_and_status_errors(cluster: Cluster) -> None:
    body = {"metadata": {"name": "cfg-svc"}, "spec": {"ports": [{"port": 80}]}}
    created = cluster.core.create_namespaced_service("default", body)
    assert created.metadata.uid
    with pytest.raises(client.ApiException) as exists:
        cluster.core.create_namespaced_service("default", body)
    assert exists.value.status == 409
    assert '"reason": "AlreadyExists"' in exists.value.body
    stale = cluster.core.read_namespaced_service("cfg-svc", "default")
    cluster.core.patch_namespaced_service(
        "cfg-svc", "default", {"metadata": {"labels": {"a": "b"}}}
    )
    with pytest.raises(client.ApiException) as conflict:
        cluster.core.replace_namespaced_service("cfg-svc", "default", stale)
    assert conflict.value.status == 409
    assert '"reason": "Conflict"' in conflict.value.body
    with pytest.raises(client.ApiException) as invalid:
        cluster.core.create_namespaced_service("default", {"metadata": {}, "spec": {}})
    assert invalid.value.status == 422
    cluster.core.delete_namespaced_service("cfg-svc", "default")
    with pytest.raises(client.ApiException) as missing:
        cluster.core.read_namespaced_service("cfg-svc", "default")
    assert missing.value.status == 404
    assert '"reason": "NotFound"' in missing.value.body


def test_list_watch_and_gone(cluster: Cluster) -> None:
    start = cluster.core.list_namespaced_service("default").metadata.resource_version
    cluster.core.create_namespaced_service("default", {"metadata": {"name": "watched"}, "spec": {}})
    events = watch.Watch().stream(
        cluster.core.list_namespaced_service,
        "default",
        resource_version=start,
        timeout_seconds=2,
        field_selector="metadata.name=watched",
    )
    kinds = [(e["type"], e["object"].metadata.name) for e in events]
    assert ("ADDED", "watched") in kinds

    def churn() -> None:  # more changes than the kept history, so resourceVersion 1 expires
        for n in range(400):
            cluster.api.store.patch(
                "services", "default", "watched", {"metadata": {"labels": {"n": str(n)}}}
            )

    cluster.run(churn)
    with pytest.raises(client.ApiException) as gone:
        for _ in watch.Watch().stream(
            cluster.core.list_namespaced_service, "default", resource_version="1", timeout_seconds=1
        ):
            pass
    assert gone.value.status == 410


def test_deployment_rolls_out_new_replicaset_and_scales(cluster: Cluster) -> None:
    cluster.apps.create_namespaced_deployment("default", deployment("web", "web:1"))
    cluster.wait(lambda: _ready_pods(cluster, "web") == 3, "3 ready web pods")
    cluster.apps.patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}}},
    )

    def rolled() -> bool:
        dep = cluster.apps.read_namespaced_deployment("web", "default")
        return dep.status is not None and (
            dep.status.updated_replicas == 3
            and dep.status.available_replicas == 3
            and dep.status.replicas == 3
        )

    cluster.wait(rolled, "rollout to web:2")
    sets = cluster.apps.list_namespaced_replica_set("default", label_selector="app=web").items
    revisions = sorted(
        int(rs.metadata.annotations["deployment.kubernetes.io/revision"]) for rs in sets
    )
    assert revisions == [1, 2]
    cluster.apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 5}})
    assert cluster.apps.read_namespaced_deployment_scale("web", "default").spec.replicas == 5
    cluster.wait(lambda: _ready_pods(cluster, "web") == 5, "5 ready web pods")


def test_deleted_pod_is_replaced_and_eviction_works(cluster: Cluster) -> None:
    cluster.apps.create_namespaced_deployment("default", deployment("evict", "evict:1", replicas=2))
    cluster.wait(lambda: _ready_pods(cluster, "evict") == 2, "2 ready pods")
    victim = (
        cluster.core.list_namespaced_pod("default", label_selector="app=evict")
        .items[0]
        .metadata.name
    )
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=victim, namespace="default"))
    cluster.core.create_namespaced_pod_eviction(victim, "default", body)

    def replaced() -> bool:
        names = {
            p.metadata.name
            for p in cluster.core.list_namespaced_pod("default", label_selector="app=evict").items
        }
        return victim not in names and _ready_pods(cluster, "evict") == 2

    cluster.wait(replaced, "the evicted pod replaced")


def test_endpoints_follow_ready_pods(cluster: Cluster) -> None:
    cluster.apps.create_namespaced_deployment("default", deployment("ep", "ep:1", replicas=2))
    svc = {
        "metadata": {"name": "ep"},
        "spec": {"selector": {"app": "ep"}, "ports": [{"port": 80, "targetPort": "http"}]},
    }
    cluster.core.create_namespaced_service("default", svc)

    def listed() -> bool:
        try:
            ep = cluster.core.read_namespaced_endpoints("ep", "default")
        except client.ApiException:
            return False
        subsets = ep.subsets or []
        return (
            sum(len(s.addresses or []) for s in subsets) == 2 and subsets[0].ports[0].port == 8080
        )

    cluster.wait(listed, "2 ready endpoint addresses")


def test_hpa_scales_on_injected_cpu(cluster: Cluster) -> None:
    cluster.apps.create_namespaced_deployment("default", deployment("busy", "busy:1", replicas=2))
    cluster.wait(lambda: _ready_pods(cluster, "busy") == 2, "2 ready busy pods")
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "busy"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "busy"},
            "minReplicas": 2,
            "maxReplicas": 6,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 50},
                    },
                }
            ],
        },
    }
    cluster.autoscaling.create_namespaced_horizontal_pod_autoscaler("default", hpa)

    def load() -> None:
        pods, _ = cluster.api.store.list("pods", "default", label_selector="app=busy")
        for pod in pods:
            cluster.api.metrics.record("default", pod["metadata"]["name"], cpu_millicores=100.0)

    cluster.run(load)  # 100% of a 100m request: twice the 50% target -> 4 replicas

    def scaled() -> bool:
        status = cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler(
            "busy", "default"
        ).status
        return status is not None and status.desired_replicas == 4 and bool(status.current_metrics)

    cluster.wait(scaled, "the HPA to ask for 4 replicas")
    assert cluster.apps.read_namespaced_deployment("busy", "default").spec.replicas == 4
    events = cluster.core.list_namespaced_event(
        "default", field_selector="reason=SuccessfulRescale"
    ).items
    assert events
    assert events[0].involved_object.kind == "HorizontalPodAutoscaler"
