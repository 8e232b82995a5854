"""`ddos-rate-limit` end to end through `drills run`: PASS, and FAIL with a limit nobody reaches.

On the drill modules' shared sandbox (tests/e2e/conftest.py; the module must leave it at its
fingerprint). The healthy run floods the shop from three addresses, measures the harm to the
legitimate users, associates a web ACL on moto, JSON-patches the profile's RATE_LIMIT into the
container named `shop`, ranks the clients from the shop's logs and blocks the attacker's
addresses (and nobody else's): it must PASS with users back under the thresholds. The defect,
`DRILLS_DDOS_DEFECT=too-high` (fixtures/ddos.py), sets RATE_LIMIT=100000/s: the drill must FAIL
in step 2 saying the attacker was not throttled and naming the limit and the container. Both
runs must leave no RATE_LIMIT on the Deployment and no web ACL or IP set on moto.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from fixtures.ddos import DEFECT_ENV, DEFECT_TOO_HIGH
from tests.e2e.drill_cli import figures, incident_timings, kubectl, objective, run_drill

DRILL = "ddos-rate-limit"
STEPS = [
    "Prepare: the shop spends 10 ms of CPU per request (CPU_WORK_MS)",
    "Flood the shop: attacker users from 203.0.113.10, 203.0.113.11, 203.0.113.12",
    "Detect: legitimate users see p95 or errors over the thresholds",
    "Runbook step 1: aws wafv2 associate-web-acl (moto: state only)",
    "Runbook step 2: JSON-patch RATE_LIMIT=2/s into container shop",
    "Runbook step 2: kubectl rollout status deployment/shop",
    "Runbook step 3: rank client addresses found in the shop's logs",
    "Runbook step 4: block the offenders in the WAF (not 443 to 0.0.0.0/0)",
    "Verify: legitimate users within the thresholds, the attacker throttled",
]
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _run(root: Path, *, defect: str = "") -> tuple[int, dict[str, Any], str]:
    run = run_drill(root, DRILL, env={DEFECT_ENV: defect} if defect else None, unset=[DEFECT_ENV])
    return run.code, run.scenario, run.output


def _as_found(root: Path, scenario: dict[str, Any]) -> None:
    """Every rollback done; no RATE_LIMIT on the shop, no web ACL or IP set left on moto."""
    assert all(r["outcome"] == "done" for r in scenario["rollbacks"]), scenario["rollbacks"]
    spec = json.loads(kubectl(root, "get", "deployment", "shop", "-o", "jsonpath={.spec}"))
    [shop] = [c for c in spec["template"]["spec"]["containers"] if c["name"] == "shop"]
    env = {e["name"]: e.get("value") for e in shop.get("env", [])}
    assert "RATE_LIMIT" not in env
    assert env["CPU_WORK_MS"] == "2"  # the drill's own request cost put back
    endpoints = json.loads((root / ".drills" / "sandbox" / "endpoints.json").read_text())
    waf = boto3.client(
        "wafv2",
        region_name="ap-southeast-1",
        endpoint_url=endpoints["aws_endpoint"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert waf.list_web_acls(Scope="REGIONAL")["WebACLs"] == []
    assert waf.list_ip_sets(Scope="REGIONAL")["IPSets"] == []


@pytest.mark.extended  # the default's passing run: `make drill` runs it, make test the defect
def test_the_flood_is_mitigated_without_blocking_a_user(project: Path) -> None:
    code, scenario, output = _run(project)
    assert (code, scenario["verdict"]) == (0, "PASS"), f"{scenario['reason']}\n{output[-3000:]}"
    names = [s["name"] for s in scenario["steps"]]
    assert [re.sub(r": \d+ attacker", ": attacker", n) for n in names] == STEPS
    assert {s["outcome"] for s in scenario["steps"]} == {"ok"}
    rto = objective(scenario, "RTO")
    assert 0 < rto["measured_s"] < rto["target_s"] == 900.0
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    incident_timings(scenario)
    seen = figures(scenario)
    before_p95 = seen["legitimate p95 latency before the flood"]["value"]
    during_p95 = seen["legitimate p95 latency during the flood"]["value"]
    assert during_p95 > 5 * before_p95, (before_p95, during_p95)  # the harm was measured
    for name in ("legitimate p95 latency after recovery", "legitimate error ratio after recovery"):
        assert seen[name]["value"] is not None
        assert seen[name]["value"] <= seen[name]["target"], seen[name]
    throttled = seen["attacker requests refused once the limit is live"]
    assert throttled["value"] >= throttled["target"] == 0.5
    assert seen["legitimate clients on the blocklist"]["value"] == 0.0
    assert seen["attacker addresses on the blocklist"]["value"] == 3.0
    assert seen["offenders found"]["value"] == 3.0
    acl = seen["web ACL associated with the load balancer"]
    assert acl["value"] is None
    assert "state only" in acl["detail"]
    assert "not run as written" in output
    assert "found by name" in output or "not container 0" in output
    _as_found(project, scenario)


def test_a_limit_no_attacker_reaches_fails_naming_it(project: Path) -> None:
    code, scenario, output = _run(project, defect=DEFECT_TOO_HIGH)
    assert (code, scenario["verdict"]) == (1, "FAIL"), f"{scenario['reason']}\n{output[-3000:]}"
    reason = scenario["reason"]
    assert "the rate limit did not throttle the attacker" in reason
    assert "RATE_LIMIT=100000/s in container shop" in reason
    assert "legitimate users" in reason
    [failed] = [s for s in scenario["steps"] if s["outcome"] == "failed"]
    assert failed["name"] == "Runbook step 2: kubectl rollout status deployment/shop"
    seen = figures(scenario)
    refused = seen["attacker requests refused once the limit is live"]
    assert refused["value"] is not None
    assert refused["value"] < refused["target"]
    _as_found(project, scenario)
