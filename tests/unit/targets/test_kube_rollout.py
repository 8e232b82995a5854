"""The rollout adapter's model mapping and the replayable bad-release entry (no cluster)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

from drills.core.errors import ConfigError
from drills.core.safety import RollbackEntry
from drills.faults.pods import BadRelease
from drills.targets.adapters.entry_cluster import ClusterBound
from drills.targets.adapters.kube_rollbacks import restore_image
from drills.targets.adapters.kube_rollout import pod_template_from, rollout_status_from
from tests.fakes import FakeWorkload


def _deployment(*, paused: bool | None = None, updated: int | None = 1) -> client.V1Deployment:
    container = client.V1Container(name="shop", image="shop:bad")
    template = client.V1PodTemplateSpec(spec=client.V1PodSpec(containers=[container]))
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(
            name="shop", generation=7, annotations={"deployment.kubernetes.io/revision": "4"}
        ),
        spec=client.V1DeploymentSpec(
            replicas=3,
            paused=paused,
            selector=client.V1LabelSelector(match_labels={"app": "shop"}),
            template=template,
        ),
        status=client.V1DeploymentStatus(
            observed_generation=7,
            replicas=4,
            updated_replicas=updated,
            available_replicas=3,
            conditions=[
                client.V1DeploymentCondition(
                    type="Progressing", status="True", reason="ReplicaSetUpdated"
                )
            ],
        ),
    )


def test_a_deployment_mid_rollout_maps_to_an_incomplete_status() -> None:
    status = rollout_status_from(_deployment())
    assert (status.replicas, status.updated, status.total, status.available) == (3, 1, 4, 3)
    assert (status.revision, status.image, status.paused) == (4, "shop:bad", False)
    assert status.progressing_reason == "ReplicaSetUpdated"
    assert not status.complete


def test_missing_status_counts_read_as_zero() -> None:
    status = rollout_status_from(_deployment(updated=None))
    assert status.updated == 0


def test_the_bound_entry_names_the_cluster_beside_the_good_image(tmp_path: Path) -> None:
    shop = FakeWorkload(image="shop:1.0.0")
    bound = ClusterBound(BadRelease(shop, image="shop:bad"), tmp_path / "kubeconfig", "ctx")
    entry = bound.rollback_entry()
    assert (entry.kind, entry.target) == ("bad-release", "default/deployment/shop")
    assert dict(entry.args) == {
        "image": "shop:1.0.0",
        "kubeconfig": str((tmp_path / "kubeconfig").resolve()),
        "context": "ctx",
    }
    bound.apply()
    assert shop.container_image() == "shop:bad"
    bound.rollback()
    assert shop.container_image() == "shop:1.0.0"


def test_an_entry_without_its_cluster_says_how_to_restore_by_hand() -> None:
    entry = RollbackEntry("bad-release", "default/deployment/shop", {"image": "shop:1.0.0"})
    with pytest.raises(ConfigError, match=r"kubectl -n default set image deployment/shop"):
        restore_image(entry)


def _template(**env: str) -> client.V1PodTemplateSpec:
    variables = [client.V1EnvVar(name=k, value=v) for k, v in env.items()]
    container = client.V1Container(name="shop", image="shop:1.0.0", env=variables)
    return client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(
            labels={"app": "shop"},
            annotations={"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"},
        ),
        spec=client.V1PodSpec(containers=[container]),
    )


def test_a_replicasets_copy_of_the_template_equals_the_deployments() -> None:
    api_client = client.ApiClient()
    copy = _template(POOL_SIZE="5")
    copy.metadata.labels["pod-template-hash"] = "7f9c"  # the controller's label on the RS copy
    good = pod_template_from(api_client, _template(POOL_SIZE="5"))
    assert good.differences(pod_template_from(api_client, copy)) == []


def test_a_template_that_only_got_its_image_back_is_not_the_last_good_one() -> None:
    api_client = client.ApiClient()
    good = pod_template_from(api_client, _template(POOL_SIZE="5"))
    undone = _template(POOL_SIZE="1")  # same image, another setting: not the good revision
    undone.metadata.annotations = None
    now = pod_template_from(api_client, undone)
    assert good.differences(now) == [
        'metadata.annotations["kubectl.kubernetes.io/restartedAt"]',
        "spec.containers[0].env[0].value",
    ]
    described = good.describe_differences(now)
    assert "spec.containers[0].env[0].value: '5' -> '1'" in described
    assert good.differences(good) == []
