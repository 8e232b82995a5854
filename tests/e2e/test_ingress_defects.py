"""`ingress-unreachable` end to end through `drills run`: PASS when healthy, FAIL when broken.

On the drill modules' shared sandbox (tests/e2e/conftest.py; the module must leave it at its
fingerprint, Services and NetworkPolicies included). `make test` runs the default variant
`selector` twice: healthy (the selector patched back, the endpoints list the pods again, health
answers 200 through the service proxy) and with the defect switch of fixtures/ingress.py
(`DRILLS_INGRESS_DEFECT=wrong-service`: a second Service exists and the recovery patches that
one), which must FAIL naming the shop Service that still lists no endpoint. The `ingress`
variant (a wrong targetPort: 502 through the proxy) and `netpol` (not enforced in the sandbox:
COULD_NOT_VERIFY, never PASS) are `extended` tests (`make test-all`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fixtures.ingress import DECOY, DEFECT_ENV, DEFECT_WRONG_SERVICE, POLICY
from tests.e2e.drill_cli import figures, incident_timings, kubectl, objective, run_drill

DRILL = "ingress-unreachable"
COMMON_STEPS = [
    "Detect: health through the ingress fails",
    "kubectl get ingress; kubectl describe ingress",
    "kubectl get svc -o wide; kubectl describe svc shop",
    "kubectl get endpoints: every service must list pod IPs",
]
VERIFY = [
    "kubectl get endpoints shop: pod IPs listed again",
    "Verify: endpoints list pod IPs, health 200 through the ingress, users served",
]
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _drill(root: Path, *args: str, defect: str = "") -> tuple[int, dict[str, Any]]:
    run = run_drill(
        root, DRILL, *args, env={DEFECT_ENV: defect} if defect else None, unset=[DEFECT_ENV]
    )
    return run.code, run.scenario


def _shop_service(root: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(kubectl(root, "get", "svc", "shop", "-o", "json"))["spec"]
    return spec


def _as_found(root: Path) -> None:
    """The shop Service as shipped, no Service or policy of the drill's left."""
    spec = _shop_service(root)
    assert spec["selector"] == {"app": "shop"}
    assert [p["targetPort"] for p in spec["ports"]] == ["http"]
    services = kubectl(root, "get", "svc", "-o", "jsonpath={.items[*].metadata.name}").split()
    assert DECOY not in services
    policies = kubectl(root, "get", "networkpolicy", "-o", "jsonpath={.items[*].metadata.name}")
    assert POLICY not in policies.split()


def _passed(scenario: dict[str, Any], steps: list[str]) -> dict[str, dict[str, Any]]:
    assert [s["name"] for s in scenario["steps"]] == steps
    assert {s["outcome"] for s in scenario["steps"]} == {"ok"}
    rto = objective(scenario, "RTO")
    assert 0 < rto["measured_s"] < rto["target_s"] == 900.0
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    incident_timings(scenario)
    assert [r["outcome"] for r in scenario["rollbacks"]] == ["done"]
    seen = figures(scenario)
    assert seen["acknowledged writes lost"]["value"] == 0
    assert seen["user-side outage"]["value"] > 0  # users really lost the shop meanwhile
    return seen


def test_the_selector_patched_back_passes(project: Path) -> None:
    code, scenario = _drill(project)
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    assert scenario["variant"] == "selector"
    steps = [
        "Break the Service selector (no pod matches)",
        *COMMON_STEPS,
        "Find the selector mismatch: a Service selecting no pod",
        "kubectl patch svc shop: selector app=shop",
        *VERIFY,
    ]
    seen = _passed(scenario, steps)
    assert seen["endpoints of service/shop in the outage"]["value"] == 0
    assert "service/shop selector app=shop-api" in seen["broken layer named"]["detail"]
    assert "503" in seen["TTD (time to detect)"]["detail"]
    _as_found(project)


def test_the_selector_fix_on_the_wrong_service_fails_naming_the_shop_service(
    project: Path,
) -> None:
    code, scenario = _drill(project, defect=DEFECT_WRONG_SERVICE)
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    reason = scenario["reason"]
    assert "service/shop in default still lists no endpoint serving the shop's pods" in reason
    assert f"after the fix was applied to service/{DECOY}" in reason
    assert "now service/shop selector app=shop-api" in reason
    assert "Waited(" not in reason  # the message alone, no assertion rewrite
    steps = {s["name"]: s["outcome"] for s in scenario["steps"]}
    assert steps[f"kubectl patch svc {DECOY}: selector app=shop"] == "ok"
    assert steps["kubectl get endpoints shop: pod IPs listed again"] == "failed"
    assert {r["outcome"] for r in scenario["rollbacks"]} == {"done"}  # fault, then the Service
    _as_found(project)


@pytest.mark.extended
def test_the_ingress_port_pointed_back_passes(project: Path) -> None:
    code, scenario = _drill(project, "--variant", "ingress")
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    steps = [
        "Point the ingress backend at a wrong port",
        *COMMON_STEPS,
        "Find the port mismatch: targetPort against the pods' container ports",
        "kubectl patch svc shop: port http targetPort http",
        *VERIFY,
    ]
    seen = _passed(scenario, steps)
    assert seen["endpoints of service/shop in the outage"]["value"] == 3  # listed, wrong port
    assert "502" in seen["TTD (time to detect)"]["detail"]
    assert "80->8081" in seen["broken layer named"]["detail"]
    _as_found(project)


@pytest.mark.extended
def test_an_unenforced_network_policy_could_not_be_verified(project: Path) -> None:
    code, scenario = _drill(project, "--variant", "netpol")
    assert (code, scenario["verdict"]) == (1, "COULD_NOT_VERIFY"), scenario["reason"]
    reason = scenario["reason"]
    assert "nothing enforces NetworkPolicy in this environment" in reason
    assert "never with --all" in reason
    assert scenario["rollbacks"][0]["outcome"] == "done"  # the policy deleted by name
    _as_found(project)
