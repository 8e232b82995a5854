"""`pitr --variant replica-promote` end to end through `drills run`: FAIL lagging, PASS healthy.

On the shared sandbox (tests/e2e/conftest.py; the module must leave it at its fingerprint).
The defect is the one the runbook's lag check is for: the replica promoted after the primary
dies is further behind than the database RPO. It is real: `DRILLS_REPLICA_LAG_DEFECT` (a
test-only switch of fixtures/replica.py) starts the replica with `recovery_min_apply_delay`, so
it replays nothing of what users write before the kill, and the RPO is tightened to 4 s while
users write for 7 s (`DRILLS_SNAPSHOT_LEAD`) between the replica's start and the kill. The drill
must FAIL naming the lag. The healthy run (make test-all) must PASS with a lag of a few seconds
at most and a real write on the promoted replica. After each run the sandbox is as found: the
shop on the primary, no replica directory or server, no replication slot.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.drill_cli import (
    assert_no_replication_slots,
    figures,
    incident_timings,
    objective,
    shown_drill,
)

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _drill(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    return shown_drill(root, "pitr", "--variant", "replica-promote", *args, env=env)


def _assert_as_found(root: Path, scenario: dict[str, Any]) -> None:
    """Both rollbacks done; no replica files, server or slot left; the shop on the primary."""
    kinds = sorted(r["kind"] for r in scenario["rollbacks"])
    assert kinds == ["canary-table", "primary-killed", "standby-replica"], scenario["rollbacks"]
    assert all(r["outcome"] == "done" for r in scenario["rollbacks"]), scenario["rollbacks"]
    postgres = root / ".drills" / "sandbox" / "postgres"
    assert [p.name for p in postgres.iterdir() if p.name.startswith("replica-")] == []
    listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert f"{postgres}/replica-" not in listed.stdout, "a replica server is still running"
    assert_no_replication_slots(root)


def test_a_replica_lagging_beyond_the_rpo_fails_naming_the_lag(project: Path) -> None:
    code, scenario = _drill(
        project,
        "--objective",
        "database.rpo=4s",
        env={"DRILLS_REPLICA_LAG_DEFECT": "10m", "DRILLS_SNAPSHOT_LEAD": "7s"},
    )
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    assert "replication lag at promotion" in scenario["reason"]
    assert "exceeds the database RPO 4 s" in scenario["reason"]
    lag = figures(scenario)["replication lag at promotion"]
    assert lag["value"] > lag["target"] == 4.0
    assert f"{lag['value']:.1f} s" in scenario["reason"]
    _assert_as_found(project, scenario)


@pytest.mark.extended
def test_healthy_replica_promote_passes(project: Path) -> None:
    code, scenario = _drill(project)
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    rto, rpo = objective(scenario, "RTO"), objective(scenario, "RPO")
    assert 0 < rto["measured_s"] < rto["target_s"] == 3600.0
    assert rpo["target_s"] == 900.0
    seen = figures(scenario)
    lag = seen["replication lag at promotion"]
    assert 0 <= lag["value"] < 4.0, lag  # streaming: at most the writes of the kill's moment
    assert seen["replication slots on the primary"]["value"] >= 1
    assert "read right before the kill" in seen["replication slots on the primary"]["detail"]
    assert "read back" in seen["timeline after promotion"]["detail"]  # a real INSERT
    assert seen["acknowledged writes before the fault"]["value"] > 0
    assert seen["writes acknowledged after the replica started"]["value"] > 0
    incident_timings(scenario)
    _assert_as_found(project, scenario)
