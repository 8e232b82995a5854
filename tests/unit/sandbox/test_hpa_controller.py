"""The sandbox HPA: conditions as a real HPA reports them, and start-up CPU set aside."""

from __future__ import annotations

from typing import Any

from drills.core.clock import FakeClock
from drills.sandbox.apiserver.server import ApiConfig, SandboxApi
from drills.sandbox.controllers.hpa import HpaController, HpaSettings


def _cluster(replicas: int, metric: dict[str, Any], behavior: dict[str, Any]) -> SandboxApi:
    api = SandboxApi(ApiConfig(node_grace_s=None), clock=FakeClock())
    api.bootstrap()
    container = {"name": "shop", "image": "shop:1", "resources": {"requests": {"cpu": "100m"}}}
    api.store.create(
        "deployments",
        {
            "metadata": {"name": "shop"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "shop"}},
                "template": {
                    "metadata": {"labels": {"app": "shop"}},
                    "spec": {"containers": [container]},
                },
            },
        },
    )
    api.store.create(
        "horizontalpodautoscalers",
        {
            "metadata": {"name": "shop"},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "shop"},
                "minReplicas": 1,
                "maxReplicas": 10,
                "metrics": [metric],
                "behavior": behavior,
            },
        },
    )
    for _ in range(6):
        api.reconcile()
    return api


def _set_ready(api: SandboxApi, *, ready: bool) -> list[str]:
    names = []
    for pod in api.store.list("pods", "default")[0]:
        meta = pod["metadata"]
        status = {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        }
        api.store.update_status("pods", "default", meta["name"], status)
        names.append(meta["name"])
    return names


def _status(api: SandboxApi) -> dict[str, Any]:
    status: dict[str, Any] = api.store.get("horizontalpodautoscalers", "default", "shop")["status"]
    return status


def _conditions(api: SandboxApi) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in _status(api)["conditions"]}


RPS = {
    "type": "Pods",
    "pods": {
        "metric": {"name": "http_requests_per_second"},
        "target": {"type": "AverageValue", "averageValue": "10"},
    },
}
CPU = {
    "type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
}


def test_a_scale_up_held_by_the_policy_says_scale_up_limit() -> None:
    policy = {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    api = _cluster(2, RPS, policy)
    for name in _set_ready(api, ready=True):
        api.metrics.record("default", name, requests_per_second=40.0)
    hpa = HpaController(api.store, api.metrics, FakeClock(), HpaSettings())
    hpa.sync()
    assert _status(api)["desiredReplicas"] == 3  # the rule asks for 8; +1 pod per minute
    assert _conditions(api)["ScalingLimited"] == ("True", "ScaleUpLimit")
    assert _conditions(api)["AbleToScale"] == ("True", "ReadyForNewScale")


def test_a_scale_down_held_by_the_window_says_stabilised() -> None:
    api = _cluster(2, RPS, {})
    names = _set_ready(api, ready=True)
    clock = FakeClock()
    hpa = HpaController(api.store, api.metrics, clock, HpaSettings(default_scale_down_window_s=30))
    for name in names:
        api.metrics.record("default", name, requests_per_second=40.0)
    hpa.sync()
    for _ in range(6):
        api.reconcile()
    names = _set_ready(api, ready=True)
    for name in names:
        api.metrics.record("default", name, requests_per_second=1.0)
    clock.advance(5)
    hpa.sync()
    # The rule now says 1; the window holds the recent 8, which cannot exceed the current 6
    # (the first step was capped at +4 pods or +100% per 15 s).
    assert _status(api)["desiredReplicas"] == 6
    assert _conditions(api)["AbleToScale"] == ("True", "ScaleDownStabilized")
    assert _conditions(api)["ScalingLimited"][0] == "False"


def test_start_up_cpu_of_pods_not_ready_is_not_load() -> None:
    api = _cluster(2, CPU, {})
    names = _set_ready(api, ready=False)  # both still starting, burning a whole core each
    for name in names:
        api.metrics.record("default", name, cpu_millicores=1000.0)
    clock = FakeClock()
    hpa = HpaController(api.store, api.metrics, clock, HpaSettings())
    hpa.sync()
    assert api.store.get("deployments", "default", "shop")["spec"]["replicas"] == 2
    assert _conditions(api)["ScalingActive"] == ("False", "FailedGetResourceMetric")
    first, second = names
    _set_ready(api, ready=True)
    api.store.update_status(
        "pods",
        "default",
        second,
        {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]},
    )
    api.metrics.record("default", first, cpu_millicores=60.0)  # 60% of its request
    clock.advance(1)
    hpa.sync()  # the starting pod counts as idle: (60 + 0) / 200 = 30%, no scale-up from it
    assert api.store.get("deployments", "default", "shop")["spec"]["replicas"] == 2
    api.metrics.record("default", first, cpu_millicores=1000.0)
    clock.advance(1)
    _set_ready(api, ready=True)  # the same figures from Ready pods are load: 1000% of request
    hpa.sync()
    assert (
        api.store.get("deployments", "default", "shop")["spec"]["replicas"] == 6
    )  # 1000% asks for 10; +4 pods per 15 s
    assert _conditions(api)["ScalingLimited"] == ("True", "ScaleUpLimit")  # binds first
    assert _status(api)["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 1000
