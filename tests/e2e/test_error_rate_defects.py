"""`error-rate-rollback` end to end through `drills run`: PASS when healthy, FAIL when broken.

On the shared sandbox (tests/e2e/conftest.py; the module leaves it at its fingerprint). The
healthy run rolls out a release that fails a tenth of the order requests, detects HighErrorRate
on the user-side stream, and rolls it back in the runbook's order. The defect
(`DRILLS_ERROR_RATE_DEFECT=no-history`, fixtures/error_rate.py) keeps no revision history, so once
the release has rolled out `kubectl rollout undo` has nothing to go back to: the drill must FAIL
saying so and that the errors persisted, and its rollback must still put the good release back.
The `dependency` variant (the shop's database read-only for new sessions) is an extended test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.e2e.drill_cli import figures, incident_timings, kubectl, objective, run_drill

DRILL = "error-rate-rollback"
DEFECT = {"DRILLS_ERROR_RATE_DEFECT": "no-history"}
UNDO_STEP = "Runbook step 4: kubectl rollout undo deployment/shop"
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _deployment(root: Path) -> dict[str, Any]:
    kubectl(root, "rollout", "status", "deployment/shop", "--timeout=90s", timeout_s=100)
    return dict(json.loads(kubectl(root, "get", "deployment", "shop", "-o", "json")))


def _env_names(deployment: dict[str, Any]) -> set[str]:
    return {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def _read_only_default(root: Path) -> list[Any]:
    """The shop database's own settings that PostgreSQL applies to every new session."""
    endpoints = json.loads((root / ".drills" / "sandbox" / "endpoints.json").read_text())
    with psycopg.connect(endpoints["admin_dsn"], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d "
            "ON d.oid = s.setdatabase WHERE d.datname = current_database() AND s.setrole = 0"
        ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.extended  # the default's passing run: `make drill` runs it, make test the defect
def test_healthy_sandbox_rolls_the_failing_release_back_and_passes(project: Path) -> None:
    history_before = _deployment(project)["spec"]["revisionHistoryLimit"]
    run = run_drill(project, DRILL)
    scenario = run.scenario
    assert (run.code, scenario["verdict"]) == (0, "PASS"), scenario["reason"] + run.output[-3000:]
    assert scenario["variant"] == "bad-release"
    rto = objective(scenario, "RTO")
    assert rto["target_s"] == 900.0
    assert 0 < rto["measured_s"] < 900.0
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    seen = figures(scenario)
    detect, _, recover = incident_timings(scenario)
    assert seen["release rolled out"]["value"] < detect <= seen["rollback issued"]["value"]
    assert seen["rollback issued"]["value"] <= recover
    assert seen["HighErrorRate critical would fire"]["value"] is not None
    assert "500 x" in seen["endpoints failing"]["detail"]  # the scope step saw the 500s
    assert seen["log lines with ERROR"]["value"] > 0  # `kubectl logs | grep ERROR` found them
    assert seen["database accepts the shop's writes"]["value"] == 1.0
    assert seen["rollout restart needed"]["value"] == 0.0
    stable = seen["error ratio over the stability window"]
    assert stable["value"] is not None
    assert stable["value"] <= stable["target"] == 0.01
    assert seen["failed user requests"]["value"] > 0
    assert {s["outcome"] for s in scenario["steps"]} == {"ok"}
    after = _deployment(project)
    assert "FAIL_SHARE" not in _env_names(after)
    assert after["spec"]["revisionHistoryLimit"] == history_before


def test_no_revision_to_roll_back_to_fails_saying_so(project: Path) -> None:
    history_before = _deployment(project)["spec"]["revisionHistoryLimit"]
    run = run_drill(project, DRILL, env=DEFECT)
    scenario = run.scenario
    assert (run.code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"] + run.output[-3000:]
    reason = scenario["reason"]
    assert "RecoveryStepMissing: kubectl rollout undo had nothing to go back to" in reason
    assert "no revision before" in reason
    assert "the errors persisted" in reason
    outcomes = {s["name"]: s["outcome"] for s in scenario["steps"]}
    assert outcomes[UNDO_STEP] == "failed"
    assert outcomes["Runbook step 3: dependencies, SELECT 1 and a write as the shop"] == "ok"
    assert [r["outcome"] for r in scenario["rollbacks"]] == ["done"]
    after = _deployment(project)  # the fault's rollback put the good release back
    assert "FAIL_SHARE" not in _env_names(after)
    assert after["spec"]["revisionHistoryLimit"] == history_before


@pytest.mark.extended  # a variant's passing run: make test drills the rollback and its defect
def test_dependency_variant_fixes_the_database_restarts_and_passes(project: Path) -> None:
    run = run_drill(project, DRILL, "--variant", "dependency")
    scenario = run.scenario
    assert (run.code, scenario["verdict"]) == (0, "PASS"), scenario["reason"] + run.output[-3000:]
    seen = figures(scenario)
    assert seen["database accepts the shop's writes"]["value"] == 0.0
    assert "read-only transaction" in seen["database accepts the shop's writes"]["detail"]
    assert seen["rollback issued"]["value"] is None  # no deploy since the fault: no undo
    assert seen["rollout restart needed"]["value"] == 1.0  # pooled sessions stayed read-only
    assert "POST /orders" in seen["endpoints failing"]["detail"]
    assert [r["outcome"] for r in scenario["rollbacks"]] == ["done"]
    assert _read_only_default(project) == []
