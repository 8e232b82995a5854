"""The memory adapter against fake client APIs: pods' OOM evidence, the patches it sends."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from kubernetes import client

from drills.core.memory import ContainerMemory, Termination
from drills.targets.adapters.kube import KubeApi
from drills.targets.adapters.kube_memory import KubeMemory


def _deployment(limit: str = "512Mi", request: str = "512Mi") -> client.V1Deployment:
    resources = client.V1ResourceRequirements(
        limits={"cpu": "1", "memory": limit}, requests={"cpu": "500m", "memory": request}
    )
    container = client.V1Container(name="shop", image="shop:1.0.0", resources=resources)
    template = client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels={"app": "shop"}),
        spec=client.V1PodSpec(containers=[container]),
    )
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name="shop"),
        spec=client.V1DeploymentSpec(
            selector=client.V1LabelSelector(match_labels={"app": "shop"}), template=template
        ),
    )


class FakeApps:
    def __init__(self, deployment: client.V1Deployment) -> None:
        self.deployment = deployment
        self.patches: list[Any] = []
        self.api_client = client.ApiClient()

    def read_namespaced_deployment(self, name: str, namespace: str) -> client.V1Deployment:
        return self.deployment

    def patch_namespaced_deployment(self, name: str, namespace: str, body: Any) -> None:
        self.patches.append(body)


def _killed_pod() -> client.V1Pod:
    ended = client.V1ContainerStateTerminated(
        exit_code=137, reason="OOMKilled", finished_at=datetime(2026, 12, 5, 4, 0, 10, tzinfo=UTC)
    )
    status = client.V1ContainerStatus(
        name="shop",
        image="shop:1.0.0",
        image_id="x",
        ready=True,
        restart_count=2,
        state=client.V1ContainerState(running=client.V1ContainerStateRunning()),
        last_state=client.V1ContainerState(terminated=ended),
    )
    resources = client.V1ResourceRequirements(limits={"memory": "96Mi"})
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name="shop-1"),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="shop", image="shop", resources=resources)]
        ),
        status=client.V1PodStatus(phase="Running", container_statuses=[status]),
    )


def _memory(apps: FakeApps, pods: list[client.V1Pod] | None = None) -> KubeMemory:
    core = SimpleNamespace(
        list_namespaced_pod=lambda ns, label_selector: SimpleNamespace(items=pods)
    )
    api = KubeApi(core=core, apps=apps, autoscaling=None, context="ctx")
    return KubeMemory(api, "default", "shop")


def test_the_pods_oom_evidence_comes_through_the_clients_models() -> None:
    [container] = _memory(FakeApps(_deployment()), [_killed_pod()]).containers()
    assert container == ContainerMemory(
        "shop-1",
        "shop",
        96 * 2**20,
        2,
        last_state=Termination("OOMKilled", 137, "2026-12-05T04:00:10+00:00"),
    )


def test_the_release_lowers_a_request_above_its_limit_in_the_same_patch() -> None:
    apps = FakeApps(_deployment())
    _memory(apps).release("shop", env={"LEAK_KB_PER_REQUEST": "128"}, memory_limit="96Mi")
    [body] = apps.patches
    assert body["spec"]["template"]["spec"]["containers"] == [
        {
            "name": "shop",
            "env": [{"name": "LEAK_KB_PER_REQUEST", "value": "128"}],
            "resources": {"limits": {"memory": "96Mi"}, "requests": {"memory": "96Mi"}},
        }
    ]


def test_a_raise_for_a_container_the_template_lacks_sends_nothing() -> None:
    apps = FakeApps(_deployment())
    memory = _memory(apps)
    assert memory.set_memory_limit("dhakacart-backend", "1Gi") == ()
    assert apps.patches == []
    assert memory.set_memory_limit("shop", "1Gi") == ("shop",)
    [body] = apps.patches
    [patched] = body["spec"]["template"]["spec"]["containers"]
    assert patched == {"name": "shop", "resources": {"limits": {"memory": "1Gi"}}}


def test_the_template_goes_back_whole_and_only_when_it_differs() -> None:
    apps = FakeApps(_deployment())
    memory = _memory(apps)
    saved = memory.template()
    assert memory.restore_template(saved) is False
    apps.deployment = _deployment(limit="96Mi", request="96Mi")
    assert memory.restore_template(saved) is True
    [body] = apps.patches
    assert (body[0]["op"], body[0]["path"]) == ("replace", "/spec/template")
    assert body[0]["value"] == json.loads(saved)
    assert memory.template_limits() == {"shop": 96 * 2**20}
