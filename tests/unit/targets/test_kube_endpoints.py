"""ready_endpoints() over fake handles: the EndpointSlices of the Service selecting the pods."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes import client

from drills.core.errors import DrillError
from drills.targets.adapters.kube import KubeApi, KubeWorkload


def _endpoint(ip: str, ready: bool | None) -> client.V1Endpoint:
    conditions = client.V1EndpointConditions(ready=ready)
    return client.V1Endpoint(addresses=[ip], conditions=conditions)


def _slice(name: str, *endpoints: client.V1Endpoint) -> client.V1EndpointSlice:
    return client.V1EndpointSlice(
        address_type="IPv4",
        metadata=client.V1ObjectMeta(name=name),
        endpoints=list(endpoints),
    )


class FakeCore:
    """Services in the namespace, as `list_namespaced_service` returns them."""

    def __init__(self, services: dict[str, dict[str, str] | None]) -> None:
        self.services = services
        self.lists = 0

    def list_namespaced_service(self, namespace: str) -> Any:
        self.lists += 1
        items = [
            client.V1Service(
                metadata=client.V1ObjectMeta(name=name),
                spec=client.V1ServiceSpec(selector=selector),
            )
            for name, selector in self.services.items()
        ]
        return SimpleNamespace(items=items)


class FakeApps:
    """One Deployment whose pod template carries `labels`."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels

    def read_namespaced_deployment(self, name: str, namespace: str) -> Any:
        template = SimpleNamespace(metadata=SimpleNamespace(labels=self.labels))
        return SimpleNamespace(spec=SimpleNamespace(template=template))


class FakeDiscovery:
    """EndpointSlices by their service-name label; records the selectors asked for."""

    def __init__(self, slices: dict[str, list[client.V1EndpointSlice]]) -> None:
        self.slices = slices
        self.selectors: list[str] = []

    def list_namespaced_endpoint_slice(self, namespace: str, *, label_selector: str) -> Any:
        self.selectors.append(label_selector)
        service = label_selector.removeprefix("kubernetes.io/service-name=")
        return SimpleNamespace(items=self.slices.get(service, []))


def _workload(
    services: dict[str, dict[str, str] | None],
    slices: dict[str, list[client.V1EndpointSlice]],
    *,
    name: str = "shop",
    service: str | None = None,
) -> tuple[KubeWorkload, FakeCore, FakeDiscovery]:
    core, discovery = FakeCore(services), FakeDiscovery(slices)
    api = KubeApi(
        core=core,
        apps=FakeApps({"app": "shop", "pod-template-hash": "abc"}),
        autoscaling=None,
        context="drills-sandbox",
        discovery=discovery,
    )
    return KubeWorkload(api, "default", name, service=service), core, discovery


def test_counts_ready_endpoints_across_slices_once_per_address() -> None:
    slices = {
        "web": [
            _slice("web-a", _endpoint("10.244.7.2", True), _endpoint("10.244.7.3", False)),
            _slice("web-b", _endpoint("10.244.7.4", None), _endpoint("10.244.7.2", True)),
        ]
    }
    workload, _, discovery = _workload({"web": {"app": "shop"}}, slices)
    assert workload.ready_endpoints() == 2
    assert discovery.selectors == ["kubernetes.io/service-name=web"]


def test_the_service_is_found_by_selector_and_remembered() -> None:
    services = {
        "other": {"app": "billing"},
        "headless-none": None,
        "shop-canary": {"app": "shop"},
        "shop": {"app": "shop"},
    }
    slices = {"shop": [_slice("shop-x", _endpoint("10.244.7.9", True))]}
    workload, core, _ = _workload(services, slices)
    assert workload.service_name() == "shop"
    assert workload.ready_endpoints() == 1
    assert core.lists == 1


def test_a_named_service_is_used_without_a_lookup() -> None:
    workload, core, discovery = _workload({}, {"front": []}, service="front")
    assert workload.ready_endpoints() == 0
    assert core.lists == 0
    assert discovery.selectors == ["kubernetes.io/service-name=front"]


def test_no_service_selecting_the_pods_says_what_to_do() -> None:
    workload, _, _ = _workload({"other": {"app": "billing"}}, {})
    with pytest.raises(DrillError, match="no Service in namespace default selects the pods"):
        workload.ready_endpoints()
