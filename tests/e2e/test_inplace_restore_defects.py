"""`snapshot-restore` `data-loss-inplace` end to end: [004]'s order PASSES, restore-first FAILS.

On the shared sandbox (tests/e2e/conftest.py; the module leaves it at its fingerprint). The
drill drops `orders` after a snapshot and performs [004] § Data Loss Scenario itself: scale the
shop to 0, `pg_dump | gzip` the damaged database, restore the newest dump from moto S3 into the
primary, restart at 10 replicas. The defect (`DRILLS_INPLACE_ORDER_DEFECT=restore-first`,
fixtures/inplace_restore.py) really runs the restore while the shop still serves and writes:
the drill must FAIL on the order, judged by the certification practical's own rules. Either
way the rollbacks give the shop back at 3 replicas with every acknowledged order on the primary.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.drill_cli import (
    figures,
    incident_timings,
    kubectl,
    objective,
    shown_drill,
)

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

DRILL = "snapshot-restore"
VARIANT = ("--variant", "data-loss-inplace")


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _drill(root: Path, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    return shown_drill(root, DRILL, *VARIANT, env=env)


def _assert_left_as_found(root: Path, scenario: dict[str, Any]) -> None:
    """Every rollback done, the shop at 3 replicas on the primary, no restored instance."""
    assert scenario["rollbacks"], "the fault and the scale to 0 record their rollbacks"
    assert all(r["outcome"] == "done" for r in scenario["rollbacks"]), scenario["rollbacks"]
    assert {r["kind"] for r in scenario["rollbacks"]} >= {"data-reinstate", "scale-to"}
    deployment = json.loads(kubectl(root, "get", "deployment", "shop", "-o", "json"))
    assert deployment["spec"]["replicas"] == 3
    postgres = root / ".drills" / "sandbox" / "postgres"
    assert [p.name for p in postgres.iterdir() if p.name.startswith("restored-")] == []
    listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert f"{postgres}/restored-" not in listed.stdout


def test_restoring_before_writes_stop_fails_on_the_order(project: Path) -> None:
    code, scenario = _drill(project, env={"DRILLS_INPLACE_ORDER_DEFECT": "restore-first"})
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    reason = scenario["reason"]
    assert "procedure out of order" in reason
    assert "restore (+" in reason
    assert "came before stop-writes" in reason
    assert "the runbook does stop-writes first" in reason
    assert "came before preserve-evidence" in reason
    assert "shop pod(s) still ran when the restore began" in reason  # it really ran under load
    assert "no evidence dump existed when the restore began" in reason
    _assert_left_as_found(project, scenario)


@pytest.mark.extended
def test_the_data_loss_procedure_in_place_passes(project: Path) -> None:
    code, scenario = _drill(project)
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    rto, rpo = objective(scenario, "RTO"), objective(scenario, "RPO")
    assert (rto["target_s"], rpo["target_s"]) == (3600.0, 900.0)
    assert 0 < rto["measured_s"] < 3600.0
    assert 0 < rpo["measured_s"] < 900.0  # writes after the dump are honestly lost
    seen = figures(scenario)
    assert seen["evidence dump size"]["value"] > 0
    assert seen["writes acknowledged while at 0 replicas"]["value"] == 0
    assert seen["replicas Ready after the restart"]["value"] == 10
    assert seen["restored tables differing from the backup"]["value"] == 0
    assert seen["acknowledged writes lost"]["value"] > 0
    assert {"time to containment (writes stopped)", "time to restore done"} <= set(seen)
    incident_timings(scenario)
    _assert_left_as_found(project, scenario)
