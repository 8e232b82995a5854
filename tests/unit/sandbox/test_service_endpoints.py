"""Backends from EndpointSlice JSON: port resolution, ready-only, terminating fallback."""

from __future__ import annotations

from typing import Any

import pytest

from drills.sandbox.node.endpoints import (
    Backend,
    candidates,
    service_port_name,
    slice_port,
    usable_backends,
)

SERVICE = {
    "spec": {
        "ports": [
            {"name": "http", "port": 80, "targetPort": "http"},
            {"name": "admin", "port": 9000, "targetPort": 9090},
        ]
    }
}


def endpoint(
    pod: str,
    ip: str,
    *,
    ready: bool | None = True,
    serving: bool | None = None,
    terminating: bool | None = None,
) -> dict[str, Any]:
    conditions = {"ready": ready, "serving": serving, "terminating": terminating}
    return {
        "addresses": [ip],
        "conditions": {k: v for k, v in conditions.items() if v is not None},
        "targetRef": {"kind": "Pod", "name": pod, "namespace": "default"},
    }


def shop_slice(*endpoints: dict[str, Any], name: str = "shop-abc") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/service-name": "shop"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080}, {"name": "admin", "port": 9090}],
        "endpoints": list(endpoints),
    }


@pytest.mark.parametrize(
    ("port", "expected"),
    [(None, "http"), ("admin", "admin"), (9000, "admin"), (80, "http"), ("nope", None)],
)
def test_the_service_port_is_chosen_by_name_or_number(
    port: int | str | None, expected: str | None
) -> None:
    assert service_port_name(SERVICE, port) == expected


def test_an_unnamed_service_port_is_the_empty_name() -> None:
    assert service_port_name({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}) == ""
    assert slice_port({"ports": [{"name": "", "port": 8080}]}, "") == 8080


def test_a_named_target_port_is_read_from_the_slice() -> None:
    assert slice_port(shop_slice(), "http") == 8080
    assert slice_port(shop_slice(), "admin") == 9090
    assert slice_port(shop_slice(), "metrics") is None


def test_without_the_service_only_a_single_port_slice_is_trusted() -> None:
    assert slice_port(shop_slice(), None) is None
    assert slice_port({"ports": [{"name": "http", "port": 8080}]}, None) == 8080


def test_only_ready_endpoints_take_traffic_and_absent_ready_means_ready() -> None:
    slices = [
        shop_slice(endpoint("shop-b", "10.244.3.5"), endpoint("shop-c", "10.244.3.6", ready=False)),
        shop_slice(endpoint("shop-a", "10.244.3.4", ready=None), name="shop-def"),
    ]
    backends = usable_backends(candidates(slices, "default", "http"))
    assert backends == [
        Backend("default", "shop-a", "10.244.3.4", 8080),
        Backend("default", "shop-b", "10.244.3.5", 8080),
    ]


def test_with_none_ready_the_serving_terminating_ones_take_traffic() -> None:
    slices = [
        shop_slice(
            endpoint("old-1", "10.244.3.7", ready=False, serving=True, terminating=True),
            endpoint("old-2", "10.244.3.8", ready=False, serving=False, terminating=True),
            endpoint("starting", "10.244.3.9", ready=False, serving=False),
        )
    ]
    assert usable_backends(candidates(slices, "default", "http")) == [
        Backend("default", "old-1", "10.244.3.7", 8080)
    ]


def test_terminating_endpoints_are_not_used_while_one_is_ready() -> None:
    slices = [
        shop_slice(
            endpoint("old-1", "10.244.3.7", ready=False, serving=True, terminating=True),
            endpoint("new-1", "10.244.3.10"),
        )
    ]
    assert [b.pod for b in usable_backends(candidates(slices, "default", "http"))] == ["new-1"]


def test_no_endpoints_no_backends_and_duplicates_collapse() -> None:
    assert usable_backends(candidates([], "default", "http")) == []
    twice = [shop_slice(endpoint("a", "10.244.3.4")), shop_slice(endpoint("a", "10.244.3.4"))]
    assert len(usable_backends(candidates(twice, "default", "http"))) == 1


def test_an_endpoint_without_target_ref_is_named_by_its_address() -> None:
    raw = {"addresses": ["10.244.3.11"], "conditions": {"ready": True}}
    [found] = candidates([shop_slice(raw)], "default", "http")
    assert found.backend == Backend("default", "10.244.3.11", "10.244.3.11", 8080)
    assert found.backend.key == ("default", "10.244.3.11")
    assert found.backend.base_url == "http://10.244.3.11:8080"
