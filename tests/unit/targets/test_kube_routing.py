"""KubeRouting over fake client handles, and the replayers of the §3.12 faults' entries."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from drills.core.errors import ConfigError, DrillError
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.targets.adapters.kube import KubeApi
from drills.targets.adapters.kube_routing import (
    KubeRouting,
    register_rollbacks,
    remove_policy,
    restore_selector,
    restore_target_port,
)


def _service(name: str, selector: dict[str, str] | None, target: Any = "http") -> Any:
    port = client.V1ServicePort(name="http", port=80, target_port=target)
    return client.V1Service(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1ServiceSpec(selector=selector, ports=[port]),
    )


class FakeCore:
    """Services by name; records patches and deletions."""

    def __init__(self, *services: Any) -> None:
        self.services = {s.metadata.name: s for s in services}
        self.patches: list[tuple[str, Any]] = []
        self.deleted: list[str] = []
        self.api_client = client.ApiClient()

    def list_namespaced_service(self, namespace: str, field_selector: str = "") -> Any:
        name = field_selector.removeprefix("metadata.name=")
        items = [s for n, s in sorted(self.services.items()) if not field_selector or n == name]
        return SimpleNamespace(items=items)

    def patch_namespaced_service(self, name: str, namespace: str, body: Any) -> None:
        self.patches.append((name, body))
        for op in body:
            if op["path"] == "/spec/selector":
                self.services[name].spec.selector = op["value"]
            elif op["op"] == "replace":
                self.services[name].spec.ports[0].target_port = op["value"]

    def delete_namespaced_service(self, name: str, namespace: str) -> None:
        if name not in self.services:
            raise ApiException(status=404, reason="Not Found")
        self.deleted.append(name)
        del self.services[name]


class FakeDiscovery:
    """One slice for service shop: two endpoints, one not ready, port `http` at 8080."""

    def list_namespaced_endpoint_slice(self, namespace: str, label_selector: str) -> Any:
        assert label_selector == "kubernetes.io/service-name=shop"
        endpoints = [
            client.V1Endpoint(
                addresses=["10.244.1.3"],
                conditions=client.V1EndpointConditions(ready=False),
                target_ref=client.V1ObjectReference(name="shop-b"),
            ),
            client.V1Endpoint(addresses=["10.244.1.2"], target_ref=None),
        ]
        ports = [
            client.DiscoveryV1EndpointPort(name="metrics", port=9090),
            client.DiscoveryV1EndpointPort(name="http", port=8080),
        ]
        item = client.V1EndpointSlice(
            address_type="IPv4",
            metadata=client.V1ObjectMeta(name="s"),
            endpoints=endpoints,
            ports=ports,
        )
        return SimpleNamespace(items=[item])


class FakeNetworking:
    """NetworkPolicies by name."""

    def __init__(self, api_client: Any) -> None:
        self.policies: dict[str, Any] = {}

    def list_namespaced_network_policy(self, namespace: str) -> Any:
        return SimpleNamespace(items=list(self.policies.values()))

    def create_namespaced_network_policy(self, namespace: str, body: Any) -> None:
        spec = client.V1NetworkPolicySpec(
            pod_selector=client.V1LabelSelector(), policy_types=body["spec"]["policyTypes"]
        )
        name = body["metadata"]["name"]
        self.policies[name] = client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name=name), spec=spec
        )

    def delete_namespaced_network_policy(self, name: str, namespace: str) -> None:
        if self.policies.pop(name, None) is None:
            raise ApiException(status=404, reason="Not Found")


@pytest.fixture
def core(monkeypatch: pytest.MonkeyPatch) -> FakeCore:
    monkeypatch.setattr(client, "NetworkingV1Api", FakeNetworking)
    return FakeCore(_service("shop", {"app": "shop"}), _service("kubernetes", None, 6443))


def _routing(core: FakeCore) -> KubeRouting:
    api = KubeApi(core=core, apps=None, autoscaling=None, context="t", discovery=FakeDiscovery())
    return KubeRouting(api, "default")


def test_services_read_as_views_with_named_and_numbered_target_ports(core: FakeCore) -> None:
    routing = _routing(core)
    assert [s.describe() for s in routing.services()] == [
        "service/kubernetes selector <none> ports http 80->6443",
        "service/shop selector app=shop ports http 80->http",
    ]
    assert routing.service("absent") is None


def test_endpoints_take_the_port_listed_under_the_service_ports_name(core: FakeCore) -> None:
    seen = _routing(core).endpoints("shop")
    assert [(e.ip, e.port, e.pod, e.ready) for e in seen] == [
        ("10.244.1.2", 8080, "", True),  # no condition means ready
        ("10.244.1.3", 8080, "shop-b", False),
    ]


def test_the_selector_is_replaced_whole_by_a_json_patch(core: FakeCore) -> None:
    _routing(core).set_selector("shop", {"app": "shop-api"})
    assert core.patches == [
        ("shop", [{"op": "replace", "path": "/spec/selector", "value": {"app": "shop-api"}}])
    ]


def test_the_target_port_patch_tests_the_ports_name_first(core: FakeCore) -> None:
    routing = _routing(core)
    routing.set_target_port("shop", "http", 8081)
    [(_, body)] = core.patches
    assert body[0] == {"op": "test", "path": "/spec/ports/0/name", "value": "http"}
    assert body[1] == {"op": "replace", "path": "/spec/ports/0/targetPort", "value": 8081}
    with pytest.raises(DrillError, match="no port named 'grpc'"):
        routing.set_target_port("shop", "grpc", 1)


def test_policies_are_created_listed_and_deleted_by_name(core: FakeCore) -> None:
    routing = _routing(core)
    routing.create_policy(
        {"metadata": {"name": "deny"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    )
    [policy] = routing.policies()
    assert policy.denies_all_ingress
    assert routing.delete_policy("deny") is True
    assert routing.delete_policy("deny") is False  # already gone: 404 is not an error


def _entry(kind: str, target: str, **args: Any) -> RollbackEntry:
    return RollbackEntry(kind, target, args)


def test_the_selector_replay_acts_once(core: FakeCore) -> None:
    routing = _routing(core)
    core.services["shop"].spec.selector = {"app": "shop-api"}
    entry = _entry("service-selector", "default/service/shop", selector='{"app": "shop"}')
    assert restore_selector(entry, routing=routing) is Replayed.RESTORED
    assert restore_selector(entry, routing=routing) is Replayed.ALREADY
    assert core.services["shop"].spec.selector == {"app": "shop"}


def test_the_target_port_replay_acts_once(core: FakeCore) -> None:
    routing = _routing(core)
    core.services["shop"].spec.ports[0].target_port = 8081
    entry = _entry(
        "service-target-port", "default/service/shop", port_name="http", target_port="http"
    )
    assert restore_target_port(entry, routing=routing) is Replayed.RESTORED
    assert restore_target_port(entry, routing=routing) is Replayed.ALREADY


def test_the_policy_replay_deletes_that_policy_alone(core: FakeCore) -> None:
    routing = _routing(core)
    for name in ("deny", "legit"):
        routing.create_policy(
            {"metadata": {"name": name}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
        )
    entry = _entry("deny-all-policy", "default/networkpolicy/deny", name="deny")
    assert remove_policy(entry, routing=routing) is Replayed.RESTORED
    assert remove_policy(entry, routing=routing) is Replayed.ALREADY
    assert [p.name for p in routing.policies()] == ["legit"]


def test_an_entry_without_its_cluster_or_shape_is_refused() -> None:
    entry = _entry("service-selector", "default/service/shop", selector='{"app": "shop"}')
    with pytest.raises(ConfigError, match="does not say which cluster"):
        restore_selector(entry)
    with pytest.raises(ConfigError, match="<namespace>/service/<name>"):
        restore_selector(_entry("service-selector", "default/deployment/shop", selector="{}"))
    with pytest.raises(ConfigError, match="records no selector"):
        restore_selector(_entry("service-selector", "default/service/shop", selector=""))


def test_the_kinds_are_registered() -> None:
    registry = RollbackRegistry()
    register_rollbacks(registry)
    kinds = ("service-selector", "service-target-port", "deny-all-policy", "create-service")
    assert set(kinds) <= set(registry.kinds())
