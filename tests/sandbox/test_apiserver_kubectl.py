"""The runbook's kubectl commands (v1.35) against the sandbox API server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.apiserver_fixtures import Cluster, deployment, start_cluster

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from start_cluster(Path(tmp_path_factory.mktemp("kubectl")))


@pytest.fixture(scope="module")
def shop(cluster: Cluster) -> str:
    cluster.apps.create_namespaced_deployment("default", deployment("shop", "shop:1"))
    cluster.kubectl("rollout", "status", "deployment/shop", "--timeout=20s")
    return "shop"


def test_get_prints_server_side_tables(cluster: Cluster, shop: str) -> None:
    pods = cluster.kubectl("get", "pods", "-l", f"app={shop}").stdout.splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(pods) == 4
    assert all(" 1/1 " in line and "Running" in line for line in pods[1:])
    deploy = cluster.kubectl("get", "deploy", shop).stdout.splitlines()
    assert deploy[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deploy[1].split()[:4] == [shop, "3/3", "3", "3"]
    nodes = cluster.kubectl("get", "nodes").stdout.splitlines()
    assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert len(nodes) == 4


def test_describe_deploy_shows_replicasets_and_events(cluster: Cluster, shop: str) -> None:
    text = cluster.kubectl("describe", "deploy", shop).stdout
    assert "Replicas:" in text
    assert "3 desired | 3 updated | 3 total | 3 available | 0 unavailable" in text
    assert "NewReplicaSet:" in text
    assert "ScalingReplicaSet" in text


def test_bad_rollout_is_undone(cluster: Cluster, shop: str) -> None:
    cluster.kubectl("set", "image", f"deployment/{shop}", f"{shop}=shop:bad")
    stuck = cluster.kubectl("rollout", "status", f"deployment/{shop}", "--timeout=2s", check=False)
    assert stuck.returncode != 0
    pods = cluster.kubectl("get", "pods", "-l", f"app={shop}").stdout
    assert "CrashLoopBackOff" in pods
    cluster.kubectl("rollout", "undo", f"deployment/{shop}")
    cluster.kubectl("rollout", "status", f"deployment/{shop}", "--timeout=20s")
    image = (
        cluster.apps.read_namespaced_deployment(shop, "default")
        .spec.template.spec.containers[0]
        .image
    )
    assert image == "shop:1"
    history = cluster.kubectl("rollout", "history", f"deployment/{shop}").stdout
    assert "3" in history.split()


def test_scale_and_restart(cluster: Cluster, shop: str) -> None:
    cluster.kubectl("scale", f"deployment/{shop}", "--replicas=4")
    cluster.kubectl("rollout", "status", f"deployment/{shop}", "--timeout=20s")
    assert cluster.apps.read_namespaced_deployment(shop, "default").status.ready_replicas == 4
    before = {rs.metadata.name for rs in cluster.apps.list_namespaced_replica_set("default").items}
    cluster.kubectl("rollout", "restart", f"deployment/{shop}")
    cluster.kubectl("rollout", "status", f"deployment/{shop}", "--timeout=20s")
    after = {rs.metadata.name for rs in cluster.apps.list_namespaced_replica_set("default").items}
    assert after - before


def test_cordon_drain_uncordon(cluster: Cluster, shop: str) -> None:
    node = "sandbox-node-1"
    cluster.kubectl("cordon", node)
    assert "SchedulingDisabled" in cluster.kubectl("get", "node", node).stdout
    cluster.kubectl("drain", node, "--ignore-daemonsets", "--timeout=20s")
    cluster.kubectl("rollout", "status", f"deployment/{shop}", "--timeout=20s")
    on_node = cluster.core.list_namespaced_pod("default", field_selector=f"spec.nodeName={node}")
    assert on_node.items == []
    cluster.kubectl("uncordon", node)
    assert "SchedulingDisabled" not in cluster.kubectl("get", "node", node).stdout


def test_get_hpa_and_events(cluster: Cluster, shop: str) -> None:
    manifest = cluster.kubeconfig.parent / "hpa.yaml"
    manifest.write_text(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
        f"metadata: {{name: {shop}}}\n"
        f"spec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {shop}}}\n"
        "  minReplicas: 2\n  maxReplicas: 8\n"
        "  metrics:\n  - type: Resource\n    resource: {name: cpu, target: "
        "{type: Utilization, averageUtilization: 60}}\n",
        encoding="utf-8",
    )
    cluster.kubectl("apply", "--validate=false", "-f", str(manifest))  # no OpenAPI served
    table = cluster.kubectl("get", "hpa", shop).stdout.splitlines()
    assert table[0].split()[:5] == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS"]
    events = cluster.kubectl("get", "events").stdout.splitlines()
    assert events[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    assert any("SuccessfulCreate" in line for line in events)


def test_delete_pod_is_replaced_and_top_reads_metrics(cluster: Cluster, shop: str) -> None:
    victim = cluster.core.list_namespaced_pod("default", label_selector=f"app={shop}").items[0]
    cluster.kubectl("delete", "pod", victim.metadata.name, "--wait=true", "--timeout=20s")
    cluster.kubectl("rollout", "status", f"deployment/{shop}", "--timeout=20s")
    names = {p.metadata.name for p in cluster.core.list_namespaced_pod("default").items}
    assert victim.metadata.name not in names

    def load() -> None:
        for pod in cluster.api.store.list("pods", "default", label_selector=f"app={shop}")[0]:
            name = pod["metadata"]["name"]
            cluster.api.metrics.record("default", name, cpu_millicores=42.0, memory_bytes=50e6)

    cluster.run(load)
    top = cluster.kubectl("top", "pods", "-l", f"app={shop}").stdout.splitlines()
    assert top[0].split()[:3] == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert all("42m" in line for line in top[1:])
