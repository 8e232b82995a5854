"""Pure parts of the process kubelet and the sandbox control: image table, probes, QoS, state."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.sandbox.control import SandboxState
from drills.sandbox.kubelet import SANDBOX_BACKOFF, _probe, _qos_class, command_for_image

ROOT = Path("/repo")


def test_shop_images_of_any_registry_and_tag_run_the_demo_app() -> None:
    for image in ("shop:1.0.0", "drills/shop:bad", "ghcr.io/acme/shop@sha256:abc"):
        assert command_for_image(image, ROOT)[-1] == "/repo/fixtures/shop/app.py"


def test_an_image_without_a_local_command_names_the_ones_that_exist() -> None:
    with pytest.raises(LookupError, match=r"\*/shop:<tag>"):
        command_for_image("nginx:1.27", ROOT)


def test_probe_resolves_named_ports_and_scales_its_periods() -> None:
    container = {
        "ports": [{"name": "http", "containerPort": 8080}],
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "initialDelaySeconds": 2,
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
    }
    probe = _probe(container, "livenessProbe", 0.25)
    assert probe is not None
    assert (probe.port, probe.path, probe.period_s, probe.initial_delay_s) == (
        8080,
        "/healthz",
        1.25,
        0.5,
    )
    assert _probe(container, "readinessProbe", 1.0) is None


def test_qos_class_follows_requests_and_limits() -> None:
    same = {"cpu": "1", "memory": "512Mi"}
    assert _qos_class({}) == "BestEffort"
    assert _qos_class({"resources": {"requests": same, "limits": same}}) == "Guaranteed"
    mixed = {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": same}
    assert _qos_class({"resources": mixed}) == "Burstable"


def test_sandbox_back_off_keeps_the_kubelet_shape_with_short_figures() -> None:
    delays = [SANDBOX_BACKOFF.delay_s(n) for n in range(1, 7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_state_lines_show_endpoints_pods_and_leftovers() -> None:
    running = SandboxState(
        running=True,
        pid=42,
        endpoints={"service_url": "http://127.0.0.1:1"},
        pods=[
            {
                "name": "shop-a",
                "phase": "Running",
                "ready": True,
                "restarts": 0,
                "ip": "127.0.1.1",
                "node": "sandbox-node-1",
            }
        ],
    )
    assert str(running).splitlines() == [
        "sandbox: running (daemon pid 42)",
        "  service_url: http://127.0.0.1:1",
        "  pod shop-a: Running ready=True restarts=0 ip=127.0.1.1 node=sandbox-node-1",
    ]
    assert (
        str(SandboxState(running=False, leftovers=[7]))
        == "sandbox: not running; processes LEFT: [7]"
    )
    assert (
        str(SandboxState(running=False, pid=42))
        == "sandbox: not running (stopped daemon pid 42); no sandbox process left"
    )
    assert str(SandboxState(running=False)) == "sandbox: not running; no sandbox process left"
