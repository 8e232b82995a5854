"""`snapshot-restore` and `pitr` end to end through `drills run`: PASS healthy, FAIL broken.

The drill modules' shared sandbox (tests/e2e/conftest.py). Each test runs the real CLI in a
subprocess and reads the run's journal. The defects are the issue's: a snapshot older than the
database RPO (users keep writing for `DRILLS_SNAPSHOT_LEAD` between the snapshot and the fault,
with the RPO tightened below that), and a WAL archive that misses its newest segments
(`DRILLS_TEST_LOSE_WAL=1`, a test-only switch of fixtures/recovery.py). After every run the
reinstate must have left the shop on the primary, with no restored instance behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.drill_cli import (
    assert_reinstated,
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
    return shown_drill(root, *args, env=env)


@pytest.mark.extended  # the default's passing run: `make drill` runs it, make test the defect
def test_healthy_snapshot_restore_passes(project: Path) -> None:
    code, scenario = _drill(project, "snapshot-restore")
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    rto, rpo = objective(scenario, "RTO"), objective(scenario, "RPO")
    assert (rto["target_s"], rpo["target_s"]) == (3600.0, 900.0)
    assert 0 < rto["measured_s"] < 3600.0
    assert 0 < rpo["measured_s"] < 900.0  # writes after the snapshot are honestly lost
    seen = figures(scenario)
    assert {"restore duration", "snapshot age at the fault"} <= set(seen)
    incident_timings(scenario)
    assert seen["acknowledged writes lost"]["value"] > 0
    assert seen["writes acknowledged after the snapshot"]["value"] > 0  # what the restore loses
    assert_reinstated(project, scenario)


@pytest.mark.extended  # the same defect against the notes service runs in make test
def test_a_stale_snapshot_fails_on_the_rpo(project: Path) -> None:
    code, scenario = _drill(
        project,
        "snapshot-restore",
        "--objective",
        "database.rpo=4s",
        env={"DRILLS_SNAPSHOT_LEAD": "7s"},
    )
    assert (code, scenario["verdict"]) == (1, "FAIL")
    rpo = objective(scenario, "RPO")
    assert rpo["target_s"] == 4.0
    assert rpo["measured_s"] > 4.0
    assert "database RPO: measured" in scenario["reason"]
    assert "vs target 4s -> FAIL" in scenario["reason"]
    age = figures(scenario)["snapshot age at the fault"]
    assert age["value"] > age["target"] == 4.0
    _assert_canary_rpo_matches(scenario, age["value"])
    assert_reinstated(project, scenario)


def _assert_canary_rpo_matches(scenario: dict[str, Any], snapshot_age_s: float) -> None:
    """The harness's own canaries measure the same loss as the shop's write ledger.

    The first canary missing from the restore committed after the snapshot began, so its span
    to the fault is below the snapshot's age, by at most a canary interval (50 ms) plus the
    dump's connect and the commit's latency on this busy machine.
    """
    seen = figures(scenario)
    canary, app = seen["canary RPO"]["value"], objective(scenario, "RPO")["measured_s"]
    print(f"  canary RPO {canary:.3f} s, write-ledger RPO {app:.3f} s")  # noqa: T201
    assert snapshot_age_s - 0.5 < canary < snapshot_age_s, (canary, snapshot_age_s)
    assert snapshot_age_s - 0.5 < app < snapshot_age_s, (app, snapshot_age_s)
    assert "missing or altered on restored-" in seen["canary RPO"]["detail"]


@pytest.mark.extended  # the default's passing run: `make drill` runs it, make test the defect
def test_healthy_pitr_passes(project: Path) -> None:
    code, scenario = _drill(project, "pitr")
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    rto, rpo = objective(scenario, "RTO"), objective(scenario, "RPO")
    assert 0 < rto["measured_s"] < rto["target_s"] == 3600.0
    assert rpo["measured_s"] == 0.0  # stopping right before the DROP keeps every write
    seen = figures(scenario)
    assert seen["acknowledged writes before the fault"]["value"] > 0  # "0 lost" of something
    assert seen["writes acknowledged after the base backup"]["value"] > 0  # replayed from WAL
    assert "read back" in seen["timeline after promotion"]["detail"]  # a write, not a flag
    assert seen["recovery point found in the WAL"]["value"] == 1.0
    assert abs(seen["reached - requested recovery point"]["value"]) < 900.0
    assert seen["writes lost before the recovery point"]["value"] == 0.0
    assert seen["canary RPO"]["value"] == 0.0  # the harness's own rows agree
    incident_timings(scenario)
    assert_reinstated(project, scenario)


@pytest.mark.extended  # the same defect against the notes service runs in make test
def test_an_archive_missing_segments_fails_the_pitr(project: Path) -> None:
    code, scenario = _drill(project, "pitr", env={"DRILLS_TEST_LOSE_WAL": "1"})
    assert (code, scenario["verdict"]) == (1, "FAIL")
    assert "recovery target not reached" in scenario["reason"]
    assert "acknowledged before the recovery point are lost" in scenario["reason"]
    seen = figures(scenario)
    assert seen["recovery point found in the WAL"]["value"] == 0.0
    assert seen["writes lost before the recovery point"]["value"] > 0
    assert_reinstated(project, scenario)
