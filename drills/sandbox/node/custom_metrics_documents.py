"""The JSON documents of the ``custom.metrics.k8s.io`` API, as an aggregated server sends them.

Pure functions, shaped after what prometheus-adapter (k8s.io/metrics types, v0.37.2) returns:
discovery (group list, group, resource list), minimal OpenAPI v2/v3 documents, ``Status``
errors and ``MetricValueList``. v1beta2 names the metric in ``metric: {name, selector}`` and its
window in ``windowSeconds``; v1beta1 has ``metricName``, ``selector`` and ``window`` instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "GROUP",
    "VERSIONS",
    "PodRate",
    "api_group",
    "api_group_list",
    "api_resource_list",
    "metric_value_list",
    "openapi_v2",
    "openapi_v3_group_version",
    "openapi_v3_root",
    "quantity",
    "status",
]

GROUP = "custom.metrics.k8s.io"
VERSIONS = ("v1beta2", "v1beta1")  # preferred first
JsonDict = dict[str, Any]


@dataclass(frozen=True)
class PodRate:
    """One pod's value of one metric."""

    namespace: str
    pod: str
    value: float


def quantity(value: float) -> str:
    """A Kubernetes quantity with milli precision: 73.5 -> ``"73500m"``, 70.0 -> ``"70"``.

    Rounds up to the next milli-unit, as `resource.Quantity` does for finer values.
    """
    if value < 0 or not math.isfinite(value):
        raise ValueError(f"a request rate is finite and non-negative, not {value}")
    millis = math.ceil(round(value * 1000, 6))
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _group_version(version: str) -> JsonDict:
    return {"groupVersion": f"{GROUP}/{version}", "version": version}


def api_group() -> JsonDict:
    """``/apis/custom.metrics.k8s.io``: the group and its versions."""
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": GROUP,
        "versions": [_group_version(v) for v in VERSIONS],
        "preferredVersion": _group_version(VERSIONS[0]),
    }


def api_group_list() -> JsonDict:
    """``/apis``: the one group this server serves.

    Plain JSON, not aggregated discovery, so the aggregator falls back to reading each
    version's resource list (``/apis/<group>/<version>``).
    """
    group = api_group()
    del group["kind"], group["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]}


def api_resource_list(version: str, metrics: Iterable[str]) -> JsonDict:
    """``/apis/custom.metrics.k8s.io/<version>``: one ``pods/<metric>`` resource per metric."""
    resources = [
        {
            "name": f"pods/{metric}",
            "singularName": "",
            "namespaced": True,
            "kind": "MetricValueList",
            "verbs": ["get"],
        }
        for metric in metrics
    ]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{GROUP}/{version}",
        "resources": resources,
    }


def openapi_v2() -> JsonDict:
    """``/openapi/v2``: a valid Swagger 2.0 document with no paths (kube-aggregator merges it)."""
    return {
        "swagger": "2.0",
        "info": {"title": "drills sandbox custom metrics", "version": VERSIONS[0]},
        "paths": {},
    }


def openapi_v3_root() -> JsonDict:
    """``/openapi/v3``: the OpenAPI v3 discovery document, one entry per served version."""
    paths = {
        f"apis/{GROUP}/{version}": {"serverRelativeURL": f"/openapi/v3/apis/{GROUP}/{version}"}
        for version in VERSIONS
    }
    return {"paths": paths}


def openapi_v3_group_version(version: str) -> JsonDict:
    """``/openapi/v3/apis/custom.metrics.k8s.io/<version>``: an OpenAPI 3.0 document, no paths."""
    return {
        "openapi": "3.0.0",
        "info": {"title": "drills sandbox custom metrics", "version": version},
        "paths": {},
        "components": {},
    }


def status(code: int, reason: str, message: str) -> JsonDict:
    """A ``Status`` failure, the error body every Kubernetes client understands."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _item(version: str, rate: PodRate, metric: str, window_s: int, timestamp: str) -> JsonDict:
    described = {"kind": "Pod", "namespace": rate.namespace, "name": rate.pod, "apiVersion": "v1"}
    if version == "v1beta1":
        return {
            "describedObject": described,
            "metricName": metric,
            "timestamp": timestamp,
            "window": window_s,
            "value": quantity(rate.value),
            "selector": None,
        }
    return {
        "describedObject": described,
        "metric": {"name": metric, "selector": None},
        "timestamp": timestamp,
        "windowSeconds": window_s,
        "value": quantity(rate.value),
    }


def metric_value_list(
    version: str,
    rates: Iterable[PodRate],
    *,
    metric: str,
    window_s: float,
    at: datetime,
) -> JsonDict:
    """A ``MetricValueList`` of `rates` (sorted by pod) measured at `at` over `window_s`.

    ``windowSeconds`` is an integer in the API: the window is rounded up to whole seconds.
    """
    timestamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    window = math.ceil(window_s)
    ordered = sorted(rates, key=lambda r: (r.namespace, r.pod))
    return {
        "kind": "MetricValueList",
        "apiVersion": f"{GROUP}/{version}",
        "metadata": {},
        "items": [_item(version, rate, metric, window, timestamp) for rate in ordered],
    }
