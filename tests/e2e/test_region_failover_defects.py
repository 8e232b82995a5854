"""`region-failover` end to end through `drills run`: FAIL with a stale standby, PASS healthy.

On the shared sandbox (tests/e2e/conftest.py; the module must leave it at its fingerprint):
the drill starts a second sandbox as the backup region and takes it down again. The defect is
the one the runbook's data-loss figure is for: the backup region's database is older than the
RPO when it is promoted. It is real: `DRILLS_STANDBY_LAG_DEFECT` (a test-only switch of
fixtures/region.py) makes the streaming standby replay every commit 10 min late, the database
RPO is tightened to 4 s and users write for 7 s (`DRILLS_SNAPSHOT_LEAD`) between the standby's
start and the loss. The drill must FAIL naming the standby's age. The healthy run (make
test-all) must PASS with users served by the backup region and nothing lost; SIGKILLed while
users are served by the backup region, `drills rollback` alone must give everything back
(make test-all too). After each run:
no backup region left (its root, its processes), no standby, no replication slot, no imported
EndpointSlice, the shop back on the primary.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.crash_matrix import KillPoint, kill_once
from tests.e2e.drill_cli import (
    assert_no_replication_slots,
    figures,
    incident_timings,
    kubectl,
    objective,
    shown_drill,
)

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

KINDS = ["backup-region", "entry-switch", "region-primary-killed", "scale-to", "standby-replica"]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _drill(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    return shown_drill(root, "region-failover", *args, env=env)


def _assert_as_found(root: Path, scenario: dict[str, Any]) -> None:
    """Every rollback done; no backup region, standby, slot or imported slice left."""
    kinds = sorted(r["kind"] for r in scenario["rollbacks"])
    assert kinds == KINDS, scenario["rollbacks"]
    assert all(r["outcome"] == "done" for r in scenario["rollbacks"]), scenario["rollbacks"]
    assert not list(Path("/tmp").glob("drills-backup-region-*")), "a backup region root is left"
    listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert "drills-backup-region-" not in listed.stdout, "a backup region process still runs"
    slices = kubectl(root, "get", "endpointslices", "-l", "kubernetes.io/service-name=shop")
    assert "drills-backup-region" not in slices, slices
    assert_no_replication_slots(root)


def test_a_standby_older_than_the_rpo_fails_with_its_age(project: Path) -> None:
    code, scenario = _drill(
        project,
        "--objective",
        "database.rpo=4s",
        env={"DRILLS_STANDBY_LAG_DEFECT": "10m", "DRILLS_SNAPSHOT_LEAD": "7s"},
    )
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    assert "the backup region's standby was" in scenario["reason"]
    assert "older than the database RPO 4 s" in scenario["reason"]
    age = figures(scenario)["standby age at promotion"]
    assert age["value"] > age["target"] == 4.0
    assert f"{age['value']:.1f} s old when promoted" in scenario["reason"]
    _assert_as_found(project, scenario)


@pytest.mark.extended
def test_healthy_region_failover_passes(project: Path) -> None:
    code, scenario = _drill(project)
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    rto, rpo = objective(scenario, "RTO"), objective(scenario, "RPO")
    assert 0 < rto["measured_s"] < rto["target_s"] == 900.0
    assert rpo["target_s"] == 900.0
    seen = figures(scenario)
    assert 0 <= seen["standby age at promotion"]["value"] < 4.0
    served = seen["user traffic served by the backup region"]
    assert 0 < served["value"] <= rto["measured_s"]
    assert seen["backup region health"]["value"] == 1.0
    assert "read back" in seen["database RTO (the standby promoted and taking writes)"]["detail"]
    assert seen["acknowledged writes before the fault"]["value"] > 0
    assert seen["acknowledged writes lost"]["value"] == 0
    incident_timings(scenario)
    _assert_as_found(project, scenario)


@pytest.mark.extended
def test_drills_rollback_after_a_sigkill_takes_the_backup_region_down(
    project: Path, tmp_path: Path
) -> None:
    """SIGKILL as step 11 (verify) starts: users are served by the backup region through the
    imported slice, the primary is down with its shop at 0, the standby promoted. `drills
    rollback` alone must give the sandbox back at its fingerprint (kill_once compares it and
    every acknowledged order, those written in the backup region included)."""
    point = KillPoint("region-failover", "step:11=SIGKILL", "start of the verify step")
    result = kill_once(project, point, tmp_path)
    assert result.restored, result.describe()
    assert result.pending_after_exit == len(KINDS)
    assert result.rollback_code == 0
    assert not list(Path("/tmp").glob("drills-backup-region-*")), "a backup region root is left"
    listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert "drills-backup-region-" not in listed.stdout, "a backup region process still runs"
