"""Controllers stepped by hand on an in-memory store (no sockets, FakeClock for the HPA)."""

from __future__ import annotations

from typing import Any

from drills.core.clock import FakeClock
from drills.sandbox.apiserver.server import ApiConfig, SandboxApi
from drills.sandbox.controllers.hpa import HpaController, HpaSettings


def _ready_all(api: SandboxApi, *, image_ok: bool = True) -> None:
    pods, _ = api.store.list("pods")
    for pod in pods:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            api.store.finalize_delete("pods", meta["namespace"], meta["name"])
            continue
        ok = image_ok and "bad" not in pod["spec"]["containers"][0]["image"]
        status = {
            "phase": "Running",
            "podIP": "127.0.0.9",
            "conditions": [{"type": "Ready", "status": "True" if ok else "False"}],
        }
        api.store.update_status("pods", meta["namespace"], meta["name"], status)


def _step(api: SandboxApi, rounds: int = 8) -> None:
    for _ in range(rounds):
        api.reconcile()
        _ready_all(api)


def _deployment(image: str, replicas: int = 3) -> dict[str, Any]:
    return {
        "metadata": {"name": "shop"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "shop"}},
            "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "shop"}},
                "spec": {
                    "containers": [
                        {"name": "shop", "image": image, "resources": {"requests": {"cpu": "100m"}}}
                    ]
                },
            },
        },
    }


def _api() -> SandboxApi:
    api = SandboxApi(ApiConfig(node_grace_s=None), clock=FakeClock())
    api.bootstrap()
    return api


def test_bad_release_keeps_old_pods_serving() -> None:
    api = _api()
    api.store.create("deployments", _deployment("shop:1"))
    _step(api)
    api.store.patch(
        "deployments",
        "default",
        "shop",
        {"spec": {"template": {"spec": {"containers": [{"name": "shop", "image": "shop:bad"}]}}}},
        "strategic",
    )
    _step(api)
    pods, _ = api.store.list("pods", "default")
    images = sorted(p["spec"]["containers"][0]["image"] for p in pods)
    # maxUnavailable 0 and maxSurge 1: three old pods stay, one new pod tries and fails.
    assert images == ["shop:1", "shop:1", "shop:1", "shop:bad"]
    status = api.store.get("deployments", "default", "shop")["status"]
    assert status["updatedReplicas"] == 1
    assert status["availableReplicas"] == 3


def test_unschedulable_when_every_node_is_cordoned() -> None:
    api = _api()
    for node in ("sandbox-node-1", "sandbox-node-2", "sandbox-node-3"):
        api.store.patch("nodes", None, node, {"spec": {"unschedulable": True}})
    api.store.create("deployments", _deployment("shop:1", replicas=1))
    for _ in range(3):
        api.reconcile()
    pod = api.store.list("pods", "default")[0][0]
    assert "nodeName" not in pod["spec"]
    assert pod["status"]["conditions"][0]["reason"] == "Unschedulable"


def test_hpa_scales_up_within_policy_and_down_after_window() -> None:
    api = _api()
    clock = FakeClock()
    hpa = HpaController(
        api.store, api.metrics, clock, HpaSettings(default_scale_down_window_s=30.0)
    )
    api.store.create("deployments", _deployment("shop:1", replicas=2))
    _step(api)
    api.store.create(
        "horizontalpodautoscalers",
        {
            "metadata": {"name": "shop"},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "shop"},
                "minReplicas": 2,
                "maxReplicas": 10,
                "metrics": [
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "http_requests_per_second"},
                            "target": {"type": "AverageValue", "averageValue": "10"},
                        },
                    }
                ],
                "behavior": {
                    "scaleUp": {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]}
                },
            },
        },
    )

    def load(rps: float) -> None:
        for pod in api.store.list("pods", "default")[0]:
            api.metrics.record("default", pod["metadata"]["name"], requests_per_second=rps)

    load(40.0)  # four times the target: the rule asks for 8, the policy allows +2 per minute
    hpa.sync()
    assert api.store.get("deployments", "default", "shop")["spec"]["replicas"] == 4
    _step(api)
    load(2.0)
    clock.advance(10)
    hpa.sync()
    assert api.store.get("deployments", "default", "shop")["spec"]["replicas"] == 4  # stabilised
    clock.advance(31)
    hpa.sync()
    replicas = api.store.get("deployments", "default", "shop")["spec"]["replicas"]
    assert replicas == 2
    status = api.store.get("horizontalpodautoscalers", "default", "shop")["status"]
    assert status["desiredReplicas"] == 2
    assert {c["type"] for c in status["conditions"]} == {
        "AbleToScale",
        "ScalingActive",
        "ScalingLimited",
    }


def test_silent_node_goes_not_ready_and_its_pods_move() -> None:
    clock = FakeClock()
    api = SandboxApi(ApiConfig(node_grace_s=4.0, pod_eviction_s=2.0, node_count=2), clock=clock)
    api.bootstrap()
    api.store.create("deployments", _deployment("shop:1", replicas=2))
    _step(api)
    heartbeat = api.store.timestamp()

    def beat(node: str) -> None:
        status = api.store.get("nodes", None, node)["status"]
        status["conditions"][0]["lastHeartbeatTime"] = api.store.timestamp()
        api.store.update_status("nodes", None, node, status)

    clock.advance(5)
    beat("sandbox-node-2")
    api.reconcile()
    node = api.store.get("nodes", None, "sandbox-node-1")
    assert node["status"]["conditions"][0]["status"] == "Unknown"
    assert node["status"]["conditions"][0]["lastHeartbeatTime"] == heartbeat
    clock.advance(3)
    beat("sandbox-node-2")
    _step(api)
    pods, _ = api.store.list("pods", "default")
    assert len(pods) == 2
    assert {p["spec"]["nodeName"] for p in pods} == {"sandbox-node-2"}


def test_stalled_rollout_exceeds_its_progress_deadline() -> None:
    clock = FakeClock()
    api = SandboxApi(ApiConfig(node_grace_s=None), clock=clock)
    api.bootstrap()
    manifest = _deployment("shop:1")
    manifest["spec"]["progressDeadlineSeconds"] = 5
    api.store.create("deployments", manifest)
    _step(api)
    bad = {"spec": {"template": {"spec": {"containers": [{"name": "shop", "image": "shop:bad"}]}}}}
    api.store.patch("deployments", "default", "shop", bad, "strategic")
    _step(api)
    clock.advance(6)
    _step(api)
    conditions = api.store.get("deployments", "default", "shop")["status"]["conditions"]
    progressing = next(c for c in conditions if c["type"] == "Progressing")
    assert progressing["status"] == "False"
    assert progressing["reason"] == "ProgressDeadlineExceeded"
