"""`hpa-spike` end to end through `drills run`: PASS when the HPA acts, FAIL when it cannot.

The drill modules' shared sandbox (tests/e2e/conftest.py), in a temporary project root that
holds the scenarios, the profiles and the shop fixture. Each test runs the real CLI in a
subprocess and reads the run's journal. The defective twins break the upstream HPA through its
own spec (`spec.behavior`) while the sandbox profile still expects the controller's 10 s
scale-down window: a 0 s window (the HPA flaps in as soon as the load dips) and a disabled
scale-down (the scale-in never comes).

The broken variants of §3.9: `no-metrics` PASSes (the blind HPA detected by steps 1-3, the
manual scale to 10 Ready, metrics-server back, the HPA acting again, the metrics APIs available
afterwards), and `no-hpa` FAILs when the runbook's manual scale asks for 5 instead of 10
(`DRILLS_HPA_SCALE_DEFECT=short`, fixtures/hpa_variants.py), naming the command it sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from drills.core.clock import SystemClock
from drills.core.conditions import Observation
from drills.core.waiting import wait_until
from tests.e2e.drill_cli import (
    figures,
    incident_timings,
    kubectl,
    objective,
    run_drill,
)

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _drill(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    run = run_drill(root, *args)
    return run.code, run.scenario


def _skip_when_the_machine_could_not_load_the_shop(scenario: dict[str, Any]) -> None:
    """A busy machine cannot push the HPA's metrics past its target: that is no verdict."""
    starved = ("could not load the shop", "could not sustain the spike")
    if scenario["verdict"] == "COULD_NOT_VERIFY" and any(s in scenario["reason"] for s in starved):
        pytest.skip(f"this machine could not load the shop enough: {scenario['reason']}")


def _restore_hpa(root: Path) -> None:
    """The HPA as the sandbox deploys it: the CPU-only manifest, then the request-rate one."""
    manifests = root / "fixtures" / "shop" / "k8s"
    kubectl(root, "apply", "-f", str(manifests))
    kubectl(root, "apply", "-f", str(manifests / "custom-metrics"))


@contextmanager
def _hpa_behavior(root: Path, scale_down: dict[str, Any]) -> Iterator[None]:
    """Patch the HPA's spec.behavior.scaleDown for one drill, then remove spec.behavior."""
    patch = json.dumps({"spec": {"behavior": {"scaleDown": scale_down}}})
    kubectl(root, "patch", "hpa", "shop", "--type=merge", "-p", patch)
    try:
        yield
    finally:
        remove = json.dumps([{"op": "remove", "path": "/spec/behavior"}])
        kubectl(root, "patch", "hpa", "shop", "--type=json", "-p", remove)


def _replicas(root: Path) -> int:
    deployment = json.loads(kubectl(root, "get", "deployment", "shop", "-o", "json"))
    return int(deployment["spec"]["replicas"])


def _await_rest(root: Path, *, timeout_s: float = 90.0) -> None:
    """Before breaking the HPA: 3 pods, all Ready, and an HPA that wants 3 (bounded poll).

    After a drill the HPA may still act on stale CPU figures of the spike for a while.
    """

    def at_rest() -> Observation:
        hpa = json.loads(kubectl(root, "get", "hpa", "shop", "-o", "json"))["status"]
        shop = json.loads(kubectl(root, "get", "deployment", "shop", "-o", "json"))
        counts = (
            hpa.get("currentReplicas"),
            hpa.get("desiredReplicas"),
            shop["spec"]["replicas"],
            shop["status"].get("readyReplicas"),
        )
        return Observation(counts == (3, 3, 3, 3), f"HPA current/desired, spec, Ready: {counts}")

    rest = wait_until(
        at_rest, clock=SystemClock(), timeout_s=timeout_s, poll_s=1.0, raise_on_timeout=False
    )
    if not rest.met:
        pytest.fail(f"the shop did not come to rest at 3 replicas ({rest.last.detail})")


@pytest.mark.extended  # the default's passing run: `make drill` runs it, make test the defect
def test_healthy_sandbox_scales_out_and_in_and_passes(project: Path) -> None:
    code, scenario = _drill(project, "hpa-spike")
    assert _replicas(project) == 3  # left as found, whatever the verdict
    _skip_when_the_machine_could_not_load_the_shop(scenario)
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    seen = figures(scenario)
    to_scale = seen["TTD (time to detect)"]  # the HPA raising the replicas
    assert 0 < to_scale["value"] <= to_scale["target"]
    incident_timings(scenario)
    assert seen["peak replicas"]["value"] > 3
    assert seen["HPA decisions checked against desired_replicas"]["value"] >= 1
    assert seen["HPA decisions the rule cannot explain"]["value"] == 0
    assert (
        "desired_replicas(current 3"
        in seen["HPA decisions checked against desired_replicas"]["detail"]
    )
    rto = objective(scenario, "RTO")
    assert rto["verdict"] == "PASS"
    assert 0 < rto["measured_s"] < rto["target_s"]


@pytest.mark.extended  # a deleted HPA: the no-hpa variant's tests below drill it in make test
def test_a_deleted_hpa_fails_the_drill_because_nothing_scaled(project: Path) -> None:
    _await_rest(project)
    kubectl(project, "delete", "hpa", "shop")
    try:
        code, scenario = _drill(project, "hpa-spike")
        left = _replicas(project)  # before the HPA is back: it may act on the spike's CPU
    finally:
        _restore_hpa(project)
    assert (code, scenario["verdict"]) == (1, "FAIL")
    assert "did not scale within 30 s" in scenario["reason"]
    assert "no HorizontalPodAutoscaler 'shop'" in scenario["reason"]
    seen = figures(scenario)
    assert seen["TTD (time to detect)"]["value"] is None
    assert "did not raise the replicas within 30 s" in seen["TTD (time to detect)"]["detail"]
    assert left == 3


def test_an_hpa_that_scales_in_inside_its_window_fails(project: Path) -> None:
    _await_rest(project)
    with _hpa_behavior(project, {"stabilizationWindowSeconds": 0}):
        code, scenario = _drill(project, "hpa-spike")
        assert _replicas(project) == 3
    _skip_when_the_machine_could_not_load_the_shop(scenario)
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    assert "scaled in before the stabilisation window ended" in scenario["reason"]
    assert "inside the 10 s scale-down stabilisation window" in scenario["reason"]
    assert "declares behavior.scaleDown.stabilizationWindowSeconds 0" in scenario["reason"]


@pytest.mark.extended  # the scale-in judgement: the window defect above and tests/unit replays
def test_an_hpa_that_never_scales_in_fails(project: Path) -> None:
    _await_rest(project)
    with _hpa_behavior(project, {"selectPolicy": "Disabled"}):
        code, scenario = _drill(project, "hpa-spike")
        assert _replicas(project) == 3  # scaled back by hand when the HPA would not
    _skip_when_the_machine_could_not_load_the_shop(scenario)
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    assert "did not scale back in after its stabilisation window" in scenario["reason"]
    assert "held after the stabilisation window ended" in scenario["reason"]
    assert "selectPolicy is Disabled" in scenario["reason"]
    seen = figures(scenario)
    assert seen["time to scale in"]["value"] < seen["time to scale in"]["target"]


def _metrics_apis_available(root: Path) -> dict[str, str]:
    """Each metrics APIService's Available status (the no-metrics variant must put them back)."""
    listed = json.loads(kubectl(root, "get", "apiservices", "-o", "json"))["items"]
    return {
        item["metadata"]["name"]: next(
            (c["status"] for c in item["status"].get("conditions", []) if c["type"] == "Available"),
            "none",
        )
        for item in listed
        if item["spec"].get("group", "").endswith("metrics.k8s.io")
    }


@pytest.mark.extended  # a variant's passing run: make test drills its manual scale (no-hpa defect)
def test_no_metrics_variant_detects_the_blind_hpa_scales_by_hand_and_passes(
    project: Path,
) -> None:
    _await_rest(project)
    apis_before = _metrics_apis_available(project)
    code, scenario = _drill(project, "hpa-spike", "--variant", "no-metrics")
    _await_rest(project)  # the replicas given back to the HPA, which settles at its minimum
    assert (
        _metrics_apis_available(project)
        == apis_before
        == {
            "v1beta1.metrics.k8s.io": "True",
            "v1beta2.custom.metrics.k8s.io": "True",
        }
    )
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    steps = [step["name"] for step in scenario["steps"]]
    runbook = [name for name in steps if name[:2] in {"1.", "2.", "3.", "4.", "5.", "6."}]
    assert [name[:2] for name in runbook] == ["1.", "2.", "3.", "5.", "4.", "6."], steps
    seen = figures(scenario)
    detected = seen["TTD (time to detect)"]
    assert 0 < detected["value"] <= detected["target"]
    spiked = seen["time from the spike to detection"]  # TTD less the wait for Locust's ramp
    assert 0 < spiked["value"] < detected["value"]
    assert "ScalingActive False" in seen["HPA desired while the load rises"]["detail"]
    assert seen["metrics APIs served"]["value"] == 0
    assert seen["kubectl top pods"]["value"] == 0
    assert detected["value"] < seen["time to 10 replicas Ready"]["value"]
    assert seen["HPA decisions checked against desired_replicas"]["value"] is None
    assert (
        "not judged in the no-metrics variant"
        in (seen["HPA decisions checked against desired_replicas"]["detail"])
    )
    incident_timings(scenario)
    rto = objective(scenario, "RTO")
    assert rto["verdict"] == "PASS"
    assert seen["time to 10 replicas Ready"]["value"] < rto["measured_s"] < rto["target_s"]
    assert objective(scenario, "RPO")["verdict"] == "PASS"


def test_a_manual_scale_short_of_ten_fails_the_no_hpa_variant(project: Path) -> None:
    _await_rest(project)
    run = run_drill(
        project, "hpa-spike", "--variant", "no-hpa", env={"DRILLS_HPA_SCALE_DEFECT": "short"}
    )
    code, scenario = run.code, run.scenario
    _await_rest(project)  # the scale's rollback, and the re-created HPA settles at its minimum
    assert json.loads(kubectl(project, "get", "hpa", "shop", "-o", "json"))["spec"]["maxReplicas"]
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    assert "the manual scale never reaches 10 replicas" in scenario["reason"]
    assert "`kubectl scale deployment/shop --replicas=5`" in scenario["reason"]
    assert "spec.replicas 5" in scenario["reason"]
    seen = figures(scenario)
    assert seen["TTD (time to detect)"]["value"] > 0  # the missing HPA was detected first
    assert "not found" in seen["HPA desired while the load rises"]["detail"]
