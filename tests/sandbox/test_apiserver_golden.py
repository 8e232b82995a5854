"""Golden tests: the sandbox's objects use the keys and value types of the real API's objects."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.apiserver_fixtures import Cluster, deployment, start_cluster

pytestmark = pytest.mark.sandbox
GOLDEN = Path(__file__).parent / "golden"


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def shape_errors(ours: Any, golden: Any, path: str = "") -> list[str]:
    """Keys of `ours` missing from `golden`, and type mismatches, as readable paths."""
    if golden is None or ours is None:
        return []
    if isinstance(golden, dict) and isinstance(ours, dict):
        if not golden:  # free-form maps (labels, annotations) hold any keys
            return []
        errors = [f"{path}.{k}: not in the real API's shape" for k in ours if k not in golden]
        for key in ours.keys() & golden.keys():
            errors += shape_errors(ours[key], golden[key], f"{path}.{key}")
        return errors
    if isinstance(golden, list) and isinstance(ours, list):
        return (
            [e for item in ours for e in shape_errors(item, golden[0], f"{path}[]")]
            if golden
            else []
        )
    if _type(ours) != _type(golden) and not {_type(ours), _type(golden)} <= {"str", "number"}:
        return [f"{path}: {_type(ours)} where the real API has {_type(golden)}"]
    return []


_FREE_MAPS = {
    "labels",
    "annotations",
    "capacity",
    "allocatable",
    "matchLabels",
    "requests",
    "limits",
}


def _free_form(node: Any) -> Any:
    """Empty the maps whose keys are user data, so any key is accepted there."""
    if isinstance(node, dict):
        return {k: {} if k in _FREE_MAPS else _free_form(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_free_form(i) for i in node]
    return node


def _golden(name: str) -> Any:
    return _free_form(json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_cluster(Path(tmp_path_factory.mktemp("golden")))
    cluster = next(running)
    cluster.apps.create_namespaced_deployment("default", deployment("gold", "gold:1"))
    cluster.kubectl("rollout", "status", "deployment/gold", "--timeout=20s")
    yield cluster
    yield from running


def _get(cluster: Cluster, path: str) -> Any:
    try:
        with urllib.request.urlopen(cluster.api.url + path, timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


@pytest.mark.parametrize(
    ("golden", "path"),
    [
        ("deployment", "/apis/apps/v1/namespaces/default/deployments/gold"),
        ("apiresourcelist_apps", "/apis/apps/v1"),
        ("status_404", "/api/v1/namespaces/default/pods/nope"),
    ],
)
def test_object_shapes(cluster: Cluster, golden: str, path: str) -> None:
    ours = _get(cluster, path)
    assert shape_errors(ours, _golden(golden)) == []
    assert set(_golden(golden)) >= set(ours)


@pytest.mark.parametrize(
    ("golden", "path"),
    [
        ("pod", "/api/v1/namespaces/default/pods"),
        ("replicaset", "/apis/apps/v1/namespaces/default/replicasets"),
        ("event", "/api/v1/namespaces/default/events"),
        ("node", "/api/v1/nodes"),
    ],
)
def test_list_item_shapes(cluster: Cluster, golden: str, path: str) -> None:
    items = _get(cluster, path)["items"]
    assert items
    for item in items:
        assert shape_errors(item, _golden(golden)) == []


def test_conflict_status_and_watch_event_shapes(cluster: Cluster) -> None:
    current = _get(cluster, "/apis/apps/v1/namespaces/default/deployments/gold")
    current["metadata"]["resourceVersion"] = "1"
    request = urllib.request.Request(
        cluster.api.url + "/apis/apps/v1/namespaces/default/deployments/gold",
        data=json.dumps(current).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as conflict:
        urllib.request.urlopen(request, timeout=5)
    body = json.loads(conflict.value.read())
    assert conflict.value.code == 409
    assert shape_errors(body, _golden("status_409")) == []
    assert body["reason"] == "Conflict"
    url = cluster.api.url + "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1"
    with urllib.request.urlopen(url, timeout=5) as stream:
        first = json.loads(stream.readline())
    assert shape_errors(first, _golden("watch_event")) == []
    assert first["type"] == "ADDED"


def test_hpa_shape(cluster: Cluster) -> None:
    hpa = json.loads((GOLDEN / "hpa_v2.json").read_text(encoding="utf-8"))
    body = {
        "metadata": {"name": "gold"},
        "spec": {
            **hpa["spec"],
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gold"},
        },
    }
    cluster.autoscaling.create_namespaced_horizontal_pod_autoscaler("default", body)

    def load() -> None:
        for pod in cluster.api.store.list("pods", "default", label_selector="app=gold")[0]:
            cluster.api.metrics.record("default", pod["metadata"]["name"], cpu_millicores=60.0)

    cluster.run(load)
    path = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/gold"
    cluster.wait(
        lambda: bool(_get(cluster, path).get("status", {}).get("currentMetrics")), "HPA status"
    )
    assert shape_errors(_get(cluster, path), _golden("hpa_v2")) == []
