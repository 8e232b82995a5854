"""Container environment and runner spec from a pod spec, as the kubelet builds them."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from drills.sandbox.node.podenv import ContainerConfigError, PodFacts, expand, resolve_env
from drills.sandbox.node.podspec import (
    SANDBOX_BACKOFF,
    ProbeScale,
    command_for_image,
    container_spec,
    probe_of,
    qos_class,
)

FACTS = PodFacts(pod_ip="10.244.3.7", host_ip="10.244.3.1", node_name="sandbox-node-1")
ROOT = Path("/repo")


class Objects:
    """Secrets and ConfigMaps by (namespace, name)."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.config_maps: dict[tuple[str, str], dict[str, Any]] = {}

    def read_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.secrets.get((namespace, name))

    def read_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.config_maps.get((namespace, name))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def pod(env: list[dict[str, Any]], env_from: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    container = {
        "name": "shop",
        "image": "shop:1.0.0",
        "env": env,
        "envFrom": env_from or [],
        "resources": {"limits": {"memory": "512Mi", "cpu": "1500m"}},
    }
    return {
        "metadata": {
            "name": "shop-a",
            "namespace": "default",
            "uid": "u-1",
            "labels": {"app": "shop"},
        },
        "spec": {"containers": [container], "serviceAccountName": "default"},
    }


def env_of(spec: dict[str, Any], objects: Objects | None = None) -> dict[str, str]:
    return resolve_env(spec, spec["spec"]["containers"][0], FACTS, objects or Objects())


def test_values_and_references_to_earlier_variables() -> None:
    spec = pod(
        [
            {"name": "PORT", "value": "8080"},
            {"name": "URL", "value": "http://$(POD_IP):$(PORT)/$(MISSING)"},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "PRICE", "value": "$$(PORT)"},
        ]
    )
    env = env_of(spec)
    assert env["URL"] == "http://$(POD_IP):8080/$(MISSING)"  # POD_IP comes later
    assert env["PRICE"] == "$(PORT)"
    assert expand("$(A)-$(B)", {"A": "1"}) == "1-$(B)"


def test_downward_api_fields() -> None:
    paths = {
        "metadata.name": "shop-a",
        "metadata.namespace": "default",
        "metadata.uid": "u-1",
        "metadata.labels['app']": "shop",
        "spec.nodeName": "sandbox-node-1",
        "spec.serviceAccountName": "default",
        "status.podIP": "10.244.3.7",
        "status.hostIP": "10.244.3.1",
    }
    spec = pod(
        [
            {"name": f"V{i}", "valueFrom": {"fieldRef": {"fieldPath": path}}}
            for i, path in enumerate(paths)
        ]
    )
    assert list(env_of(spec).values()) == list(paths.values())


def test_resource_field_refs_in_divisor_units() -> None:
    spec = pod(
        [
            {
                "name": "MEM",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {
                "name": "MCPU",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}},
            },
        ]
    )
    assert env_of(spec) == {"MEM": "512", "CPU": "2", "MCPU": "1500"}


def test_secret_and_config_map_keys() -> None:
    objects = Objects()
    objects.secrets[("default", "shop-database")] = {"data": {"url": b64("postgresql://db")}}
    objects.config_maps[("default", "shop")] = {"data": {"mode": "fast"}}
    spec = pod(
        [
            {
                "name": "DATABASE_URL",
                "valueFrom": {"secretKeyRef": {"name": "shop-database", "key": "url"}},
            },
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "shop", "key": "mode"}}},
            {
                "name": "GONE",
                "valueFrom": {"secretKeyRef": {"name": "x", "key": "y", "optional": True}},
            },
        ]
    )
    assert env_of(spec, objects) == {"DATABASE_URL": "postgresql://db", "MODE": "fast"}


def test_missing_secret_or_key_is_a_container_config_error() -> None:
    objects = Objects()
    spec = pod(
        [{"name": "DB", "valueFrom": {"secretKeyRef": {"name": "shop-database", "key": "url"}}}]
    )
    with pytest.raises(ContainerConfigError, match='secret "shop-database" not found'):
        env_of(spec, objects)
    objects.secrets[("default", "shop-database")] = {"data": {"other": b64("x")}}
    with pytest.raises(
        ContainerConfigError, match="couldn't find key url in Secret default/shop-database"
    ):
        env_of(spec, objects)


def test_env_from_with_prefix_then_env_entries_win() -> None:
    objects = Objects()
    objects.config_maps[("default", "settings")] = {"data": {"PORT": "1", "MODE": "slow"}}
    objects.secrets[("default", "creds")] = {"data": {"TOKEN": b64("t")}}
    spec = pod(
        [{"name": "PORT", "value": "8080"}],
        env_from=[
            {"configMapRef": {"name": "settings"}},
            {"secretRef": {"name": "creds"}, "prefix": "APP_"},
            {"configMapRef": {"name": "absent", "optional": True}},
        ],
    )
    assert env_of(spec, objects) == {"PORT": "8080", "MODE": "slow", "APP_TOKEN": "t"}
    with pytest.raises(ContainerConfigError, match='configmap "absent" not found'):
        env_of(pod([], env_from=[{"configMapRef": {"name": "absent"}}]), objects)


def test_shop_images_of_any_registry_and_tag_run_the_demo_app() -> None:
    for image in ("shop:1.0.0", "drills/shop:bad", "ghcr.io/acme/shop@sha256:abc"):
        assert command_for_image(image, ROOT)[-1] == "/repo/fixtures/shop/app.py"
    with pytest.raises(LookupError, match=r"\*/shop:<tag>"):
        command_for_image("nginx:1.27", ROOT)


def test_probe_resolves_named_ports_and_scales_its_periods() -> None:
    container = {
        "ports": [{"name": "http", "containerPort": 8080}],
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "initialDelaySeconds": 2,
            "periodSeconds": 5,
        },
    }
    probe = probe_of(container, "livenessProbe", 0.25)
    assert probe is not None
    assert (probe.port, probe.path, probe.period_s, probe.initial_delay_s) == (
        8080,
        "/healthz",
        1.25,
        0.5,
    )
    assert probe_of(container, "readinessProbe", 1.0) is None


def test_qos_class_follows_requests_and_limits() -> None:
    same = {"cpu": "1", "memory": "512Mi"}

    def with_resources(resources: dict[str, Any]) -> dict[str, Any]:
        return {"spec": {"containers": [{"name": "c", "resources": resources}]}}

    assert qos_class(with_resources({})) == "BestEffort"
    assert qos_class(with_resources({"requests": same, "limits": same})) == "Guaranteed"
    assert qos_class(with_resources({"limits": same})) == "Guaranteed"  # requests default to limits
    mixed = {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": same}
    assert qos_class(with_resources(mixed)) == "Burstable"


def test_container_spec_takes_grace_policy_limit_and_scaled_probes() -> None:
    spec = pod([])
    spec["spec"].update(terminationGracePeriodSeconds=10, restartPolicy="OnFailure")
    container = spec["spec"]["containers"][0]
    container["readinessProbe"] = {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 2}
    container["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5}
    built = container_spec(spec, ("app",), {"A": "1"}, cwd=ROOT, scale=ProbeScale(0.25, 0.05))
    assert built.termination_grace_s == 10
    assert built.restart_policy == "OnFailure"
    assert built.memory_limit_bytes == 512 * 1024**2
    assert built.readiness is not None
    assert built.readiness.period_s == pytest.approx(0.1)
    assert built.liveness is not None
    assert built.liveness.period_s == 1.25


def test_sandbox_back_off_keeps_the_kubelet_shape_with_short_figures() -> None:
    assert [SANDBOX_BACKOFF.delay_s(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
