"""StopMetricsApis (RUNBOOKS.md §3.9 `no-metrics`), its replay, and the adapter's API calls."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes import client

from drills.core.errors import ConfigError, InjectionFailed
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.faults.autoscaling import StopMetricsApis
from drills.targets.adapters.kube import KubeApi
from drills.targets.adapters.kube_metrics_api import (
    KubeMetricsApis,
    groups_for,
    restore_metrics_apis,
)
from drills.targets.adapters.kube_rollbacks import register_rollbacks
from drills.targets.ports.metrics_api import MetricsApis, MetricsApiState, Serving

SLICE = "kube-system/metrics-server-sandbox"
ENDPOINTS = [{"addresses": ["10.244.1.1"], "conditions": {"ready": True}}]


class FakeApis:
    """Metrics APIs in memory: one slice, its endpoints, and what was done to it."""

    names: tuple[str, ...] = ("v1beta1.metrics.k8s.io",)

    def __init__(self, endpoints: list[dict[str, Any]] | None = None) -> None:
        self.slices = {SLICE: copy.deepcopy(ENDPOINTS if endpoints is None else endpoints)}
        self.calls: list[str] = []

    def states(self) -> tuple[MetricsApiState, ...]:
        ready = len(self.slices[SLICE])
        return (
            MetricsApiState(self.names[0], "kube-system/metrics-server", ready > 0, "", ready, ""),
        )

    def serving(self) -> dict[str, list[dict[str, Any]]]:
        return copy.deepcopy(self.slices)

    def stop(self, serving: Serving) -> None:
        self.calls.append("stop")
        for key in serving:
            self.slices[key] = []

    def restore(self, serving: Serving) -> bool:
        changed = any(self.slices[k] != list(v) for k, v in serving.items())
        if changed:
            self.calls.append("restore")
            self.slices.update({k: copy.deepcopy(list(v)) for k, v in serving.items()})
        return changed


def test_the_fake_is_a_metrics_apis_port() -> None:
    apis: MetricsApis = FakeApis()
    assert apis.states()[0].available


def test_the_endpoints_are_recorded_then_emptied_then_put_back_once() -> None:
    apis = FakeApis()
    fault = StopMetricsApis(apis)
    entry = fault.rollback_entry()
    assert (entry.kind, entry.target) == ("stop-metrics-apis", "apiservice/v1beta1.metrics.k8s.io")
    assert json.loads(str(entry.args["serving"])) == {SLICE: ENDPOINTS}
    fault.apply()
    assert apis.slices[SLICE] == []
    assert not apis.states()[0].available
    fault.rollback()
    fault.rollback()  # idempotent: the endpoints are back
    assert apis.slices[SLICE] == ENDPOINTS
    assert apis.calls == ["stop", "restore"]


def test_endpoints_put_back_by_the_recovery_leave_the_rollback_nothing_to_do() -> None:
    apis = FakeApis()
    fault = StopMetricsApis(apis)
    fault.rollback_entry()
    fault.apply()
    apis.restore(fault.serving)  # the drill's step 4
    fault.rollback()
    assert apis.calls == ["stop", "restore"]


def test_an_api_nothing_serves_is_no_fault() -> None:
    apis = FakeApis(endpoints=[])
    fault = StopMetricsApis(apis)
    fault.rollback_entry()
    with pytest.raises(InjectionFailed, match="no endpoint serves"):
        fault.apply()
    assert apis.calls == []


def _entry(**args: str) -> RollbackEntry:
    return RollbackEntry("stop-metrics-apis", "apiservice/v1beta1.metrics.k8s.io", args)


def test_the_replay_refuses_an_entry_without_endpoints() -> None:
    with pytest.raises(ConfigError, match="records no endpoints"):
        restore_metrics_apis(_entry(serving="", kubeconfig="/k", context="drills-sandbox"))


def test_the_replay_without_its_cluster_says_what_to_put_back() -> None:
    with pytest.raises(ConfigError, match="put the endpoints of kube-system/metrics-server"):
        restore_metrics_apis(_entry(serving=json.dumps({SLICE: ENDPOINTS})))


def test_drills_rollback_knows_the_kind() -> None:
    registry = RollbackRegistry()
    register_rollbacks(registry)
    assert "stop-metrics-apis" in registry.kinds()


def test_the_groups_follow_the_hpa_metric_sources() -> None:
    assert groups_for(["Resource", "Pods"]) == ("custom.metrics.k8s.io", "metrics.k8s.io")
    assert groups_for(["External"]) == ("external.metrics.k8s.io",)
    assert groups_for([]) == ("metrics.k8s.io",)  # an HPA gone: metrics-server at least


# -- the adapter against fake client APIs ------------------------------------------------------
def _slice(endpoints: list[dict[str, Any]], managed_by: str = "drills-sandbox") -> Any:
    labels = {"endpointslice.kubernetes.io/managed-by": managed_by}
    return client.V1EndpointSlice(
        address_type="IPv4",
        metadata=client.V1ObjectMeta(
            name="metrics-server-sandbox", namespace="kube-system", labels=labels
        ),
        endpoints=[
            client.V1Endpoint(
                addresses=e["addresses"],
                conditions=client.V1EndpointConditions(ready=e["conditions"]["ready"]),
            )
            for e in endpoints
        ],
    )


class FakeDiscovery:
    """DiscoveryV1Api's slice calls on one stored slice; JSON patches applied to it."""

    def __init__(self, managed_by: str = "drills-sandbox") -> None:
        self.stored = _slice(ENDPOINTS, managed_by)
        self.patches: list[Any] = []

    def list_namespaced_endpoint_slice(self, namespace: str, **selectors: str) -> Any:
        return SimpleNamespace(items=[self.stored])

    def patch_namespaced_endpoint_slice(self, name: str, namespace: str, body: Any) -> None:
        self.patches.append(body)
        [operation] = body
        labels = self.stored.metadata.labels
        self.stored = _slice(operation["value"], labels["endpointslice.kubernetes.io/managed-by"])


class FakeRegistration:
    def list_api_service(self) -> Any:
        service = client.V1APIService(
            metadata=client.V1ObjectMeta(name="v1beta1.metrics.k8s.io"),
            spec=client.V1APIServiceSpec(
                group="metrics.k8s.io",
                version="v1beta1",
                group_priority_minimum=100,
                version_priority=100,
                service=client.ApiregistrationV1ServiceReference(
                    name="metrics-server", namespace="kube-system"
                ),
            ),
            status=client.V1APIServiceStatus(
                conditions=[
                    client.V1APIServiceCondition(
                        type="Available", status="True", reason="Passed", message=""
                    )
                ]
            ),
        )
        return SimpleNamespace(items=[service])


class FakeApps:
    def read_namespaced_deployment(self, name: str, namespace: str) -> Any:
        raise client.ApiException(status=404, reason="Not Found")


def _adapter(monkeypatch: pytest.MonkeyPatch, discovery: FakeDiscovery) -> KubeMetricsApis:
    monkeypatch.setattr(client, "ApiregistrationV1Api", lambda api_client: FakeRegistration())
    core = SimpleNamespace(api_client=client.ApiClient())
    api = KubeApi(
        core=core, apps=FakeApps(), autoscaling=None, context="drills-sandbox", discovery=discovery
    )
    return KubeMetricsApis(api, ("metrics.k8s.io",))


def test_the_adapter_reads_empties_and_refills_the_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    discovery = FakeDiscovery()
    apis = _adapter(monkeypatch, discovery)
    assert apis.names == ("v1beta1.metrics.k8s.io",)
    [state] = apis.states()
    assert (state.available, state.ready_endpoints) == (True, 1)
    assert 'deployment.apps "metrics-server" not found in kube-system' in state.deployment
    serving = apis.serving()
    assert serving == {SLICE: ENDPOINTS}
    apis.stop(serving)
    assert discovery.patches[-1] == [{"op": "add", "path": "/endpoints", "value": []}]
    assert apis.states()[0].ready_endpoints == 0
    assert restore_metrics_apis(_entry(serving=json.dumps(serving)), apis=apis) is Replayed.RESTORED
    assert restore_metrics_apis(_entry(serving=json.dumps(serving)), apis=apis) is Replayed.ALREADY
    assert len(discovery.patches) == 2


def test_a_slice_a_controller_manages_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    discovery = FakeDiscovery(managed_by="endpointslice-controller.k8s.io")
    apis = _adapter(monkeypatch, discovery)
    with pytest.raises(InjectionFailed, match="scaling its Deployment to 0"):
        apis.stop(apis.serving())
    assert discovery.patches == []
