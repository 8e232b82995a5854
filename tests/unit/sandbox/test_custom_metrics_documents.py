"""custom.metrics.k8s.io documents, checked field by field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drills.sandbox.node import custom_metrics_documents as docs
from drills.sandbox.node.custom_metrics import select_rates

AT = datetime(2026, 1, 1, 12, 30, 5, 250000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(73.5, "73500m"), (70.0, "70"), (0.0, "0"), (0.0004, "1m"), (1 / 3, "334m"), (0.1, "100m")],
)
def test_quantities_have_milli_precision_rounded_up(value: float, expected: str) -> None:
    assert docs.quantity(value) == expected


def test_a_negative_or_infinite_rate_is_a_bug() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        docs.quantity(-1.0)
    with pytest.raises(ValueError, match="finite"):
        docs.quantity(float("inf"))


def test_v1beta2_metric_value_list_has_the_adapter_shape() -> None:
    rates = [docs.PodRate("default", "shop-b", 0.0), docs.PodRate("default", "shop-a", 73.5)]
    body = docs.metric_value_list(
        "v1beta2", rates, metric="http_requests_per_second", window_s=4.2, at=AT
    )
    assert body["kind"] == "MetricValueList"
    assert body["apiVersion"] == "custom.metrics.k8s.io/v1beta2"
    assert body["items"][0] == {
        "describedObject": {
            "kind": "Pod",
            "namespace": "default",
            "name": "shop-a",
            "apiVersion": "v1",
        },
        "metric": {"name": "http_requests_per_second", "selector": None},
        "timestamp": "2026-01-01T12:30:05Z",
        "windowSeconds": 5,
        "value": "73500m",
    }
    assert body["items"][1]["describedObject"]["name"] == "shop-b"
    assert body["items"][1]["value"] == "0"


def test_v1beta1_items_name_the_metric_and_window_the_old_way() -> None:
    body = docs.metric_value_list(
        "v1beta1", [docs.PodRate("ns", "p", 2.0)], metric="m", window_s=5, at=AT
    )
    [item] = body["items"]
    assert body["apiVersion"] == "custom.metrics.k8s.io/v1beta1"
    assert (item["metricName"], item["window"], item["value"]) == ("m", 5, "2")
    assert "metric" not in item
    assert "windowSeconds" not in item


def test_discovery_lists_the_pods_metric_resource_and_prefers_v1beta2() -> None:
    resources = docs.api_resource_list("v1beta2", ["http_requests_per_second"])
    assert resources["groupVersion"] == "custom.metrics.k8s.io/v1beta2"
    assert resources["resources"] == [
        {
            "name": "pods/http_requests_per_second",
            "singularName": "",
            "namespaced": True,
            "kind": "MetricValueList",
            "verbs": ["get"],
        }
    ]
    group = docs.api_group_list()["groups"][0]
    assert group["preferredVersion"]["groupVersion"] == "custom.metrics.k8s.io/v1beta2"
    assert [v["version"] for v in group["versions"]] == ["v1beta2", "v1beta1"]


def test_openapi_documents_are_minimal_but_valid() -> None:
    assert docs.openapi_v2()["swagger"] == "2.0"
    assert docs.openapi_v2()["paths"] == {}
    root = docs.openapi_v3_root()["paths"]
    assert root["apis/custom.metrics.k8s.io/v1beta2"]["serverRelativeURL"] == (
        "/openapi/v3/apis/custom.metrics.k8s.io/v1beta2"
    )
    assert docs.openapi_v3_group_version("v1beta2")["openapi"].startswith("3.0")


def test_status_is_a_kubernetes_failure() -> None:
    assert docs.status(404, "NotFound", "gone") == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "gone",
        "reason": "NotFound",
        "code": 404,
    }


def test_only_listed_pods_with_a_rate_are_reported() -> None:
    rates = {("default", "a"): 3.0, ("default", "b"): 0.0, ("other", "c"): 9.0}
    listed = ["a", "b", "not-an-endpoint", "c"]
    assert select_rates(rates, "default", listed) == [
        docs.PodRate("default", "a", 3.0),
        docs.PodRate("default", "b", 0.0),
    ]
    assert select_rates(rates, "default", listed, "b") == [docs.PodRate("default", "b", 0.0)]
    assert select_rates(rates, "default", listed, "not-an-endpoint") == []
