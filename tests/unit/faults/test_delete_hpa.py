"""DeleteHpa: the HPA deleted under a spike (RUNBOOKS.md §3.9 `no-hpa`), its rollback and replay."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from drills.core.errors import ConfigError, InjectionFailed
from drills.core.safety import RollbackEntry, RollbackRegistry
from drills.faults.autoscaling import DeleteHpa
from drills.targets.adapters.kube import KubeApi
from drills.targets.adapters.kube_hpa import KubeAutoscaler
from drills.targets.adapters.kube_rollbacks import register_rollbacks, restore_hpa
from drills.targets.ports.autoscaling import AutoscalerObject, HpaStatus

SPEC = {
    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop"},
    "minReplicas": 3,
    "maxReplicas": 10,
    "metrics": [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        }
    ],
}
MANIFEST = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "shop", "namespace": "default", "labels": {"app": "shop"}},
    "spec": SPEC,
}


@dataclass
class FakeHpa:
    """An HPA object in memory; `calls` records what the fault and its rollback did."""

    namespace: str = "default"
    name: str = "shop"
    stored: dict[str, Any] | None = field(default_factory=lambda: copy.deepcopy(MANIFEST))
    calls: list[str] = field(default_factory=list)

    def status(self) -> HpaStatus | None:
        if self.stored is None:
            return None
        return HpaStatus(self.name, "Deployment", "shop", 3, 10, 3, 3)

    def manifest(self) -> dict[str, Any] | None:
        return copy.deepcopy(self.stored)

    def delete(self) -> None:
        self.calls.append("delete")
        self.stored = None

    def restore(self, manifest: Mapping[str, Any]) -> None:
        self.calls.append("restore")
        self.stored = copy.deepcopy(dict(manifest))


def test_the_fake_is_an_autoscaler_object() -> None:
    hpa: AutoscalerObject = FakeHpa()
    assert hpa.status() is not None


def test_the_hpa_is_deleted_and_recreated_from_what_was_read_before() -> None:
    hpa = FakeHpa()
    fault = DeleteHpa(hpa)
    entry = fault.rollback_entry()
    assert (entry.kind, entry.target) == ("delete-hpa", "default/hpa/shop")
    assert json.loads(str(entry.args["manifest"])) == MANIFEST
    fault.apply()
    assert hpa.manifest() is None
    fault.rollback()
    fault.rollback()  # idempotent: it is back as it was
    assert hpa.manifest() == MANIFEST
    assert hpa.calls == ["delete", "restore"]


def test_an_hpa_recreated_as_it_was_leaves_the_rollback_nothing_to_do() -> None:
    hpa = FakeHpa()
    fault = DeleteHpa(hpa)
    fault.rollback_entry()
    fault.apply()
    hpa.stored = copy.deepcopy(MANIFEST)  # the trainee ran `kubectl apply -f autoscaler.yaml`
    fault.rollback()
    assert hpa.calls == ["delete"]


def test_an_hpa_recreated_with_another_spec_gets_the_recorded_spec_back() -> None:
    hpa = FakeHpa()
    fault = DeleteHpa(hpa)
    fault.rollback_entry()
    fault.apply()
    hpa.stored = {**copy.deepcopy(MANIFEST), "spec": {**SPEC, "maxReplicas": 3}}
    fault.rollback()
    assert hpa.manifest() == MANIFEST


def test_no_hpa_is_no_fault() -> None:
    fault = DeleteHpa(FakeHpa(stored=None))
    assert fault.rollback_entry().args["manifest"] == ""
    with pytest.raises(InjectionFailed, match="no default/hpa/shop to delete"):
        fault.apply()
    fault.rollback()  # nothing was read, nothing to put back


def _entry(target: str = "default/hpa/shop", **args: str) -> RollbackEntry:
    return RollbackEntry("delete-hpa", target, {"manifest": json.dumps(MANIFEST), **args})


def test_the_replay_refuses_a_target_that_is_not_an_hpa() -> None:
    with pytest.raises(ConfigError, match="is not <namespace>/hpa/<name>"):
        restore_hpa(_entry("default/deployment/shop"))


def test_the_replay_refuses_an_entry_without_a_manifest() -> None:
    with pytest.raises(ConfigError, match="records no HPA manifest"):
        restore_hpa(_entry(manifest="", kubeconfig="/k", context="drills-sandbox"))


def test_the_replay_without_its_cluster_says_how_to_restore_by_hand() -> None:
    with pytest.raises(ConfigError, match=r"kubectl -n default apply -f <the HPA manifest>"):
        restore_hpa(_entry())


def test_drills_rollback_knows_the_kind() -> None:
    registry = RollbackRegistry()
    register_rollbacks(registry)
    assert "delete-hpa" in registry.kinds()


# -- the adapter: what it reads, deletes and writes through autoscaling/v2 --------------------
class FakeAutoscalingApi:
    """AutoscalingV2Api's HPA calls on one stored model."""

    def __init__(self, stored: client.V2HorizontalPodAutoscaler | None) -> None:
        self.api_client = client.ApiClient()
        self.stored = stored
        self.calls: list[tuple[str, Any]] = []

    def read_namespaced_horizontal_pod_autoscaler(self, name: str, namespace: str) -> Any:
        if self.stored is None:
            raise ApiException(status=404, reason="Not Found")
        return self.stored

    def delete_namespaced_horizontal_pod_autoscaler(self, name: str, namespace: str) -> None:
        self.calls.append(("delete", name))

    def create_namespaced_horizontal_pod_autoscaler(self, namespace: str, body: Any) -> None:
        self.calls.append(("create", body))

    def replace_namespaced_horizontal_pod_autoscaler(
        self, name: str, namespace: str, body: Any
    ) -> None:
        self.calls.append(("replace", body))


def _model() -> client.V2HorizontalPodAutoscaler:
    return client.V2HorizontalPodAutoscaler(
        api_version="autoscaling/v2",
        kind="HorizontalPodAutoscaler",
        metadata=client.V1ObjectMeta(
            name="shop", namespace="default", labels={"app": "shop"}, resource_version="42", uid="u"
        ),
        spec=client.V2HorizontalPodAutoscalerSpec(
            scale_target_ref=client.V2CrossVersionObjectReference(
                api_version="apps/v1", kind="Deployment", name="shop"
            ),
            min_replicas=3,
            max_replicas=10,
            metrics=[
                client.V2MetricSpec(
                    type="Resource",
                    resource=client.V2ResourceMetricSource(
                        name="cpu",
                        target=client.V2MetricTarget(type="Utilization", average_utilization=70),
                    ),
                )
            ],
        ),
        status=client.V2HorizontalPodAutoscalerStatus(current_replicas=3, desired_replicas=3),
    )


def _adapter(api: FakeAutoscalingApi) -> KubeAutoscaler:
    return KubeAutoscaler(KubeApi(None, None, api, "drills-sandbox"), "default", "shop")


def test_the_manifest_is_what_kubectl_apply_would_take() -> None:
    assert _adapter(FakeAutoscalingApi(_model())).manifest() == MANIFEST
    assert _adapter(FakeAutoscalingApi(None)).manifest() is None


def test_restore_creates_an_absent_hpa_and_replaces_the_spec_of_a_present_one() -> None:
    absent = FakeAutoscalingApi(None)
    _adapter(absent).restore(MANIFEST)
    assert absent.calls == [("create", MANIFEST)]
    present = FakeAutoscalingApi(_model())
    changed = {**MANIFEST, "spec": {**SPEC, "maxReplicas": 5}}
    _adapter(present).restore(changed)
    [(verb, body)] = present.calls
    assert verb == "replace"
    assert body["spec"]["maxReplicas"] == 5
    assert body["metadata"]["resourceVersion"] == "42"  # the update is conditional
    assert "status" not in body
