"""DeleteDeployment (RUNBOOKS.md §3.2 `deployment-deleted`): the fault, its rollback and replay.

Also the adapter behind it (KubeDeployment over a fake AppsV1Api) and the manifest the runbook's
`kubectl apply -f` reads from the repository.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from drills.core.errors import ConfigError, InjectionFailed, SafetyViolation
from drills.core.safety import BlastRadius, Replayed, RollbackEntry, RollbackRegistry
from drills.faults.pods import DeleteDeployment
from drills.targets.adapters.kube import KubeApi
from drills.targets.adapters.kube_deployment import KubeDeployment, load_manifest
from drills.targets.adapters.kube_rollbacks import register_rollbacks, restore_deployment
from drills.targets.ports.workload import DeploymentObject

REPO = Path(__file__).resolve().parents[3]
SPEC = {
    "replicas": 3,
    "selector": {"matchLabels": {"app": "shop"}},
    "template": {
        "metadata": {"labels": {"app": "shop"}},
        "spec": {"containers": [{"name": "shop", "image": "shop:1.0.0"}]},
    },
}
MANIFEST = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "shop", "labels": {"app": "shop"}},
    "spec": SPEC,
}
EVERYTHING = BlastRadius(max_fraction=1.0)


@dataclass
class FakeDeployment:
    """A Deployment object in memory; `calls` records what the fault and its rollback did."""

    namespace: str = "default"
    name: str = "shop"
    stored: dict[str, Any] | None = field(default_factory=lambda: copy.deepcopy(MANIFEST))
    calls: list[str] = field(default_factory=list)

    def manifest(self) -> dict[str, Any] | None:
        return copy.deepcopy(self.stored)

    def delete(self) -> None:
        self.calls.append("delete")
        self.stored = None

    def restore(self, manifest: Mapping[str, Any]) -> None:
        self.calls.append("restore")
        self.stored = copy.deepcopy(dict(manifest))


def test_the_fake_is_a_deployment_object() -> None:
    deployment: DeploymentObject = FakeDeployment()
    assert deployment.manifest() == MANIFEST


def test_the_deployment_is_deleted_and_recreated_from_what_was_read_before() -> None:
    deployment = FakeDeployment()
    fault = DeleteDeployment(deployment, blast_radius=EVERYTHING)
    entry = fault.rollback_entry()
    assert (entry.kind, entry.target) == ("delete-deployment", "default/deployment/shop")
    assert json.loads(str(entry.args["manifest"])) == MANIFEST
    fault.apply()
    assert deployment.manifest() is None
    fault.rollback()
    fault.rollback()  # idempotent: it is back as it was
    assert deployment.manifest() == MANIFEST
    assert deployment.calls == ["delete", "restore"]


def test_a_deployment_the_runbook_reapplied_as_it_was_is_left_alone() -> None:
    deployment = FakeDeployment()
    fault = DeleteDeployment(deployment, blast_radius=EVERYTHING)
    fault.rollback_entry()
    fault.apply()
    deployment.stored = copy.deepcopy(MANIFEST)  # `kubectl apply -f deployment.yaml`
    fault.rollback()
    assert deployment.calls == ["delete"]


def test_one_reapplied_with_another_spec_gets_the_recorded_spec_back() -> None:
    deployment = FakeDeployment()
    fault = DeleteDeployment(deployment, blast_radius=EVERYTHING)
    fault.rollback_entry()
    fault.apply()
    deployment.stored = {**copy.deepcopy(MANIFEST), "spec": {**SPEC, "replicas": 1}}
    fault.rollback()
    assert deployment.manifest() == MANIFEST


def test_no_deployment_is_no_fault() -> None:
    fault = DeleteDeployment(FakeDeployment(stored=None), blast_radius=EVERYTHING)
    assert fault.rollback_entry().args["manifest"] == ""
    with pytest.raises(InjectionFailed, match="no default/deployment/shop to delete"):
        fault.apply()
    fault.rollback()  # nothing was read, nothing to put back


def test_the_blast_radius_refuses_deleting_a_whole_deployment_it_caps() -> None:
    deployment = FakeDeployment()
    fault = DeleteDeployment(deployment, blast_radius=BlastRadius(max_fraction=0.34))
    fault.rollback_entry()
    with pytest.raises(SafetyViolation):
        fault.apply()
    assert deployment.calls == []  # refused before anything was touched


def _entry(target: str = "default/deployment/shop", **args: str) -> RollbackEntry:
    return RollbackEntry("delete-deployment", target, {"manifest": json.dumps(MANIFEST), **args})


def test_the_replay_recreates_the_deployment_once() -> None:
    deployment = FakeDeployment(stored=None)
    assert restore_deployment(_entry(), deployment=deployment) is Replayed.RESTORED
    assert restore_deployment(_entry(), deployment=deployment) is Replayed.ALREADY
    assert deployment.manifest() == MANIFEST


def test_the_replay_refuses_a_target_that_is_not_a_deployment() -> None:
    with pytest.raises(ConfigError, match="is not <namespace>/deployment/<name>"):
        restore_deployment(_entry("default/hpa/shop"))


def test_the_replay_refuses_an_entry_without_a_manifest() -> None:
    with pytest.raises(ConfigError, match="records no manifest"):
        restore_deployment(_entry(manifest=""), deployment=FakeDeployment())


def test_the_replay_without_its_cluster_says_how_to_restore_by_hand() -> None:
    with pytest.raises(ConfigError, match=r"kubectl -n default apply -f <the shop's manifest>"):
        restore_deployment(_entry())


def test_drills_rollback_knows_the_kind() -> None:
    registry = RollbackRegistry()
    register_rollbacks(registry)
    assert "delete-deployment" in registry.kinds()


# -- the adapter: what it reads, deletes and writes through apps/v1 ---------------------------
class FakeAppsApi:
    """AppsV1Api's Deployment calls on one stored model."""

    def __init__(self, stored: client.V1Deployment | None) -> None:
        self.api_client = client.ApiClient()
        self.stored = stored
        self.calls: list[tuple[str, Any]] = []

    def read_namespaced_deployment(self, name: str, namespace: str) -> Any:
        if self.stored is None:
            raise ApiException(status=404, reason="Not Found")
        return self.stored

    def delete_namespaced_deployment(
        self, name: str, namespace: str, *, propagation_policy: str
    ) -> None:
        self.calls.append(("delete", propagation_policy))

    def create_namespaced_deployment(self, namespace: str, body: Any) -> None:
        self.calls.append(("create", body))

    def patch_namespaced_deployment(self, name: str, namespace: str, body: Any) -> None:
        self.calls.append(("patch", body))


def _model() -> client.V1Deployment:
    return client.V1Deployment(
        api_version="apps/v1",
        kind="Deployment",
        metadata=client.V1ObjectMeta(
            name="shop",
            namespace="default",
            labels={"app": "shop"},
            annotations={"deployment.kubernetes.io/revision": "4"},
            resource_version="42",
            uid="u",
            generation=7,
        ),
        spec=client.V1DeploymentSpec(
            replicas=3,
            selector=client.V1LabelSelector(match_labels={"app": "shop"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "shop"}),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="shop", image="shop:1.0.0")]
                ),
            ),
        ),
        status=client.V1DeploymentStatus(replicas=3, ready_replicas=3),
    )


def _adapter(api: FakeAppsApi) -> KubeDeployment:
    return KubeDeployment(KubeApi(None, api, None, "drills-sandbox"), "default", "shop")


def test_the_manifest_drops_server_fields_and_the_revision() -> None:
    assert _adapter(FakeAppsApi(_model())).manifest() == MANIFEST
    assert _adapter(FakeAppsApi(None)).manifest() is None


def test_delete_lets_the_replicasets_and_pods_go_in_the_background() -> None:
    api = FakeAppsApi(_model())
    _adapter(api).delete()
    assert api.calls == [("delete", "Background")]


def test_restore_creates_an_absent_deployment_in_its_namespace() -> None:
    api = FakeAppsApi(None)
    _adapter(api).restore(MANIFEST)
    [(verb, body)] = api.calls
    assert verb == "create"
    assert body["metadata"] == {"name": "shop", "labels": {"app": "shop"}, "namespace": "default"}
    assert body["spec"] == SPEC


def test_restore_puts_the_spec_of_a_present_one_back_with_one_patch() -> None:
    api = FakeAppsApi(_model())
    _adapter(api).restore(MANIFEST)
    assert api.calls == [("patch", [{"op": "replace", "path": "/spec", "value": SPEC}])]


def test_restore_refuses_a_manifest_of_another_deployment() -> None:
    other = {**MANIFEST, "metadata": {"name": "cart"}}
    with pytest.raises(ConfigError, match="names deployment 'cart', not 'shop'"):
        _adapter(FakeAppsApi(None)).restore(other)


def test_the_shops_manifest_is_what_the_runbook_applies() -> None:
    manifest = load_manifest(REPO / "fixtures" / "shop" / "k8s" / "deployment.yaml")
    assert manifest["metadata"]["name"] == "shop"
    assert manifest["spec"]["replicas"] == 3


def test_a_file_without_a_deployment_says_so(tmp_path: Path) -> None:
    service = tmp_path / "service.yaml"
    service.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: shop}\n")
    with pytest.raises(ConfigError, match="holds no Deployment"):
        load_manifest(service)
    with pytest.raises(ConfigError, match="cannot read the manifest"):
        load_manifest(tmp_path / "missing.yaml")
