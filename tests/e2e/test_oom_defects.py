"""`oom-memory-leak` end to end through `drills run`: PASS when healthy, FAIL when broken.

The shared sandbox of the drill modules (tests/e2e/conftest.py); each test runs the real CLI in
a subprocess and reads the run's journal. The OOM kills are real: the sandbox's node agent
samples each container's RSS and SIGKILLs it over its limit, and the drill reads `OOMKilled`,
exit code 137 from pod status through the API server. The defect is the fixture's documented
switch `DRILLS_OOM_LIMIT_DEFECT=wrong-container` (fixtures/oom.py): the raise names the runbook
product's container, `dhakacart-backend`, which the shop does not have, so the pods keep their
limit and the leak keeps killing them. The drill must fail for that reason, and both runs must
leave the shop's pod template as they found it (the fault's rollback puts it back whole).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fixtures.oom import DEFECT_ENV, DEFECT_WRONG_CONTAINER
from tests.e2e.drill_cli import figures, incident_timings, kubectl, objective, run_drill

DRILL = "oom-memory-leak"
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _template(root: Path) -> dict[str, Any]:
    found = json.loads(kubectl(root, "get", "deployment", "shop", "-o", "json"))
    template: dict[str, Any] = found["spec"]["template"]
    return template


def _assert_template_restored(root: Path, before: dict[str, Any]) -> None:
    """The leak is off and the limit is the shop's own again, all pods rolled out."""
    kubectl(root, "rollout", "status", "deployment/shop", "--timeout=90s", timeout_s=100)
    now = _template(root)
    assert now == before
    [container] = now["spec"]["containers"]
    assert "LEAK_KB_PER_REQUEST" not in {e["name"] for e in container["env"]}
    assert container["resources"]["limits"]["memory"] == "512Mi"  # deployment.yaml, [000]


@pytest.mark.extended  # the default's passing run: `make drill` runs it, make test the defect
def test_healthy_sandbox_passes_with_every_figure(project: Path) -> None:
    before = _template(project)
    run = run_drill(project, DRILL, unset=[DEFECT_ENV])
    scenario = run.scenario
    assert (run.code, scenario["verdict"]) == (0, "PASS"), f"{scenario['reason']}\n{run.output}"
    assert objective(scenario, "RTO")["target_s"] == 900.0
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    detect, _, recover = incident_timings(scenario)
    seen = figures(scenario)
    assert 0 < seen["time to first OOM kill"]["value"] <= detect + 1.0  # finishedAt vs the poll
    assert "last OOMKilled (exit 137)" in seen["memory limit of the OOM-killed pod"]["detail"]
    assert seen["memory limit of the OOM-killed pod"]["value"] == 96.0  # sandbox [oom] limit
    assert seen["OOM kills after the fix"]["value"] == 0.0
    assert detect < seen["raised limit live on every pod"]["value"] < recover
    assert seen["memory of the fullest pod after the fix"]["value"] <= 0.8
    assert "highest memory by kubectl top" in seen  # a value, or why metrics-server had none
    assert seen["memory at the OOM kills (the node's events)"]["value"] > 96.0  # RSS > limit
    assert seen["acknowledged writes lost"]["value"] == 0
    assert [s["outcome"] for s in scenario["steps"]] == ["ok"] * 7
    assert [r["outcome"] for r in scenario["rollbacks"]] == ["done"]
    _assert_template_restored(project, before)


def test_a_raise_that_never_reaches_the_pods_fails_the_drill(project: Path) -> None:
    before = _template(project)
    run = run_drill(
        project,
        DRILL,
        "--objective",
        "shop.rto=40s",  # the raise can never land: wait only as long as the target allows
        env={DEFECT_ENV: DEFECT_WRONG_CONTAINER},
    )
    scenario = run.scenario
    assert (run.code, scenario["verdict"]) == (1, "FAIL"), f"{scenario['reason']}\n{run.output}"
    reason = scenario["reason"]
    assert "the raised limit never reached the pods" in reason
    assert "pods run shop at 1Gi; still" in reason  # the pods' own limit, unchanged
    assert "OOM kills continued" in reason
    assert "no container named 'dhakacart-backend'" in reason
    kills = figures(scenario)["OOM kills after the raise"]
    assert kills["value"] >= 1, kills
    outcomes = {s["name"]: s["outcome"] for s in scenario["steps"]}
    detect = "Detect: kubectl describe pod shows Last State OOMKilled, exit code 137"
    assert outcomes[detect] == "ok"
    assert outcomes["Raise the limit: 96Mi -> 1Gi, live on every pod"] == "failed"
    assert [r["outcome"] for r in scenario["rollbacks"]] == ["done"]
    _assert_template_restored(project, before)
