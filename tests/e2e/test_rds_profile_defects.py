"""The RDS profile (`--env sandbox-rds`) end to end: restores through the RDS API of moto.

On the shared sandbox (tests/e2e/conftest.py; the module leaves it at its fingerprint). The
sandbox's moto runs with its RDS restores backed by real local PostgreSQL instances
(drills.moto_rds): a restore stays `creating` for the profile's modelled 8 s, then answers at
its Endpoint with the snapshot's rows (or the WAL replayed to the requested time), so the
drills' data checks are real. The defect (`DRILLS_RDS_STUCK_DEFECT` below,
fixtures/rds_recovery.py) really keeps the restored instance `creating` for 10 min: the
waiter's 30 s timeout must end the drill FAIL naming the instance and its status, and the
instance must still be deleted by its rollback. The healthy runs of both drills are extended.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drills.sandbox.aws import DUMMY_CREDENTIALS
from drills.targets.adapters.aws import RdsAdapter
from tests.e2e.drill_cli import objective, sandbox_endpoints, shown_drill

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

ENV = ("--env", "sandbox-rds")
STUCK = {"DRILLS_RDS_STUCK_DEFECT": "10m"}


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _drill(root: Path, drill: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    return shown_drill(root, drill, *ENV, env=env)


def _assert_nothing_left(root: Path, scenario: dict[str, Any]) -> None:
    """Every rollback done; moto lists no instance and no snapshot; no local restore runs."""
    kinds = [r["kind"] for r in scenario["rollbacks"]]
    assert kinds.count("rds-delete-instance") == 2, kinds  # the restore's and the source record's
    assert all(r["outcome"] == "done" for r in scenario["rollbacks"]), scenario["rollbacks"]
    endpoint = sandbox_endpoints(root)["aws_endpoint"]
    rds = RdsAdapter.connect(endpoint_url=endpoint, **DUMMY_CREDENTIALS).client
    assert rds.describe_db_instances()["DBInstances"] == []
    assert rds.describe_db_snapshots()["DBSnapshots"] == []
    postgres = root / ".drills" / "sandbox" / "postgres"
    assert [p.name for p in postgres.iterdir() if p.name.startswith("drills-restored-")] == []


def test_a_restore_that_never_becomes_available_fails_naming_it(project: Path) -> None:
    code, scenario = _drill(project, "snapshot-restore", STUCK)
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    reason = scenario["reason"]
    assert "RecoveryStepMissing: restore-db-instance-from-db-snapshot: " in reason
    assert "drills-restored-snapshot-restore-" in reason
    assert "never became available within the waiter's 30 s" in reason
    assert "status creating" in reason
    _assert_nothing_left(project, scenario)


@pytest.mark.extended
def test_snapshot_restore_through_rds_passes(project: Path) -> None:
    code, scenario = _drill(project, "snapshot-restore")
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    rto, rpo = objective(scenario, "RTO"), objective(scenario, "RPO")
    assert 0 < rto["measured_s"] < rto["target_s"]
    assert 0 < rpo["measured_s"] < rpo["target_s"]  # writes after the snapshot: honestly lost
    waits = [f for f in scenario["figures"] if "MODELLED" in f["detail"]]  # the restore's
    assert waits, scenario["figures"]
    assert waits[0]["value"] >= 8.0, waits  # the modelled `creating` really waited
    _assert_nothing_left(project, scenario)


@pytest.mark.extended
def test_pitr_through_rds_passes(project: Path) -> None:
    code, scenario = _drill(project, "pitr")
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    rto = objective(scenario, "RTO")
    assert 0 < rto["measured_s"] < rto["target_s"]
    _assert_nothing_left(project, scenario)
