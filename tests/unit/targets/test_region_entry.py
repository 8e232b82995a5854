"""The runbook's DNS change as an imported EndpointSlice: what is read, created and deleted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from drills.core.errors import DrillError
from drills.targets.adapters.kube import KubeApi
from drills.targets.adapters.region_entry import (
    MANAGED_BY,
    ImportedEndpoints,
    backup_endpoints,
    remove_entry,
    switch_entry,
)

PORTS = [{"name": "http", "port": 8080, "protocol": "TCP"}]


@dataclass
class Listed:
    items: list[dict[str, Any]]


class Serializer:
    @staticmethod
    def sanitize_for_serialization(item: dict[str, Any]) -> dict[str, Any]:
        return item


@dataclass
class Core:
    api_client: Serializer = field(default_factory=Serializer)


@dataclass
class Discovery:
    slices: list[dict[str, Any]] = field(default_factory=list)
    created: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def list_namespaced_endpoint_slice(self, namespace: str, label_selector: str) -> Listed:
        assert label_selector == "kubernetes.io/service-name=shop"
        return Listed(self.slices)

    def create_namespaced_endpoint_slice(self, namespace: str, body: dict[str, Any]) -> None:
        self.created.append((namespace, body))

    def delete_namespaced_endpoint_slice(self, name: str, namespace: str) -> None:
        if name not in [b["metadata"]["name"] for _, b in self.created]:
            raise ApiException(status=404, reason="Not Found")
        self.deleted.append(name)


def _api(discovery: Discovery) -> KubeApi:
    return KubeApi(core=Core(), apps=None, autoscaling=None, context="c", discovery=discovery)


def _endpoint(ip: str, *, ready: bool) -> dict[str, Any]:
    return {
        "addresses": [ip],
        "conditions": {"ready": ready, "serving": ready},
        "nodeName": "sandbox-node-1",
        "targetRef": {"kind": "Pod", "name": f"shop-{ip}", "namespace": "default"},
    }


def test_only_the_backup_regions_ready_endpoints_are_imported_without_node_names() -> None:
    backup = Discovery(
        slices=[
            {"ports": PORTS, "endpoints": [_endpoint("10.244.2.5", ready=True)]},
            {"ports": PORTS, "endpoints": [_endpoint("10.244.2.6", ready=False)]},
        ]
    )
    imported = backup_endpoints(_api(backup), "default", "shop")
    assert imported.addresses() == ["10.244.2.5"]
    assert imported.ports == tuple(PORTS)
    assert "nodeName" not in imported.endpoints[0]  # a node of the other cluster


def test_the_switch_is_one_slice_of_the_service_not_the_controllers_and_goes_again() -> None:
    primary = Discovery()
    imported = ImportedEndpoints(({"addresses": ["10.244.2.5"]},), tuple(PORTS))
    switch_entry(_api(primary), "default", "shop", "shop-region", imported)
    [(namespace, body)] = primary.created
    labels = body["metadata"]["labels"]
    assert namespace == "default"
    assert labels == {
        "kubernetes.io/service-name": "shop",
        "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
    }
    assert body["endpoints"] == [{"addresses": ["10.244.2.5"]}]
    assert remove_entry(_api(primary), "default", "shop-region") is True
    assert remove_entry(_api(primary), "default", "not-there") is False


def test_no_ready_endpoint_in_the_backup_region_is_refused() -> None:
    with pytest.raises(DrillError, match="no ready endpoint"):
        switch_entry(_api(Discovery()), "default", "shop", "s", ImportedEndpoints((), ()))
