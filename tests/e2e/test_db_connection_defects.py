"""`db-connection-failure` end to end through `drills run`: crash recovery keeps every order.

On the shared sandbox (tests/e2e/conftest.py; the module must leave it at its fingerprint). The
defect, in `make test`, is the documented switch `DRILLS_DBDOWN_DEFECT=async-commit`
(fixtures/db_connection.py): PostgreSQL acknowledges commits before their WAL is written and
nothing forces the write, so the immediate stop really discards acknowledged orders. The drill
must FAIL naming them, the orders must really be missing from the primary afterwards (read here
with the project's ledgers, independently of the drill), and the server must be left with its
own settings again. The healthy `db-down` run, `bad-secret`, `netpol` and a SIGKILL while the
database is down are `extended` (make test-all).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from drills.core.clock import SystemClock
from fixtures.db_connection import DEFECT_ASYNC_COMMIT, DEFECT_ENV, WRONG_HOST
from tests.e2e.crash_matrix import KillPoint, kill_once, lost_acknowledged
from tests.e2e.drill_cli import figures, kubectl, objective, run_drill

DRILL = "db-connection-failure"
DB_DOWN_STEPS = [
    "Stop PostgreSQL: pg_ctl stop -m immediate",
    "Detect: the first failed SQL probe",
    "Database up? pg_ctl status (aws rds describe-db-instances on RDS)",
    "Connect from a backend pod: psql $DATABASE_URL -c 'SELECT 1'",
    "Credentials: kubectl get secret shop-database -o yaml",
    "Fix: start PostgreSQL (the RDS reboot); crash recovery runs",
    "kubectl rollout restart deployment/shop if the pods do not recover",
    "Verify: SELECT 1 answers, pods Ready, users served",
]
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _drill(root: Path, *args: str, defect: str = "") -> tuple[int, dict[str, Any], str]:
    env = {DEFECT_ENV: defect} if defect else None
    run = run_drill(root, DRILL, *args, env=env, unset=[DEFECT_ENV])
    print(f"{run.scenario['verdict']}: {run.scenario['reason']}")  # noqa: T201 - the -rP record
    for figure in run.scenario["figures"]:
        said = f"{figure['value']} (target {figure['target']}) {figure['detail']}"
        print(f"  {figure['name']}: {said}")  # noqa: T201
    return run.code, run.scenario, run.output


def _admin(root: Path) -> str:
    endpoints = json.loads((root / ".drills" / "sandbox" / "endpoints.json").read_text())
    return str(endpoints["admin_dsn"])


def _overridden(root: Path) -> list[str]:
    """Settings left in postgresql.auto.conf (ALTER SYSTEM); none when the sandbox is as found."""
    with psycopg.connect(_admin(root), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT name FROM pg_file_settings WHERE sourcefile LIKE '%postgresql.auto.conf'"
        ).fetchall()
    return sorted(str(r[0]) for r in rows)


def _secret_url(root: Path) -> str:
    raw = kubectl(root, "get", "secret", "shop-database", "-o", "jsonpath={.data.url}")
    return base64.b64decode(raw).decode()


def _as_found(root: Path) -> None:
    with psycopg.connect(_admin(root), autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('synchronous_commit')").fetchone()
    assert row is not None
    assert row[0] == "on"
    assert _overridden(root) == []
    kubectl(root, "rollout", "status", "deployment/shop", "--timeout=90s", timeout_s=100)


def test_commits_acknowledged_before_their_wal_is_written_fail_naming_the_lost_orders(
    project: Path,
) -> None:
    started = SystemClock().wall().timestamp()
    code, scenario, output = _drill(project, defect=DEFECT_ASYNC_COMMIT)
    assert (code, scenario["verdict"]) == (1, "FAIL"), f"{scenario['reason']}\n{output[-3000:]}"
    reason = scenario["reason"]
    assert "acknowledged orders are gone after the db-down recovery" in reason
    assert "synchronous_commit=off" in reason
    assert "archive_timeout=0" in reason
    seen = figures(scenario)
    lost = seen["acknowledged writes lost"]
    assert lost["value"] > 0, lost
    assert seen["crash recovery ran"]["value"] == 1.0
    # really gone from the primary, read here from the run's own ledger, not from the drill
    missing = lost_acknowledged(project, started)
    assert missing, "the drill reported lost orders the primary still has"
    named = reason.split("recovery: ", 1)[1].split(";", 1)[0].split(", ")
    assert set(named) <= set(missing), (named, missing[:10])
    assert [r["outcome"] for r in scenario["rollbacks"]] == ["done", "done", "done"]
    assert "canary-table" in {r["kind"] for r in scenario["rollbacks"]}  # the canary dropped
    _as_found(project)


@pytest.mark.extended
def test_the_healthy_database_crash_loses_nothing_and_passes(project: Path) -> None:
    code, scenario, output = _drill(project)
    assert (code, scenario["verdict"]) == (0, "PASS"), f"{scenario['reason']}\n{output[-3000:]}"
    assert scenario["variant"] == "db-down"
    assert [s["name"] for s in scenario["steps"]] == DB_DOWN_STEPS
    rto = objective(scenario, "RTO")
    assert 0 < rto["measured_s"] < rto["target_s"] == 900.0
    rpo = objective(scenario, "RPO")
    assert (rpo["measured_s"], rpo["target_s"]) == (0.0, 900.0)
    seen = figures(scenario)
    database = seen["database RTO (SELECT 1 answers again)"]
    assert 0 < database["value"] < database["target"] == 3600.0
    assert seen["crash recovery ran"]["value"] == 1.0
    assert "redo" in seen["crash recovery ran"]["detail"]
    assert seen["database server running"]["value"] == 0.0
    assert seen["SELECT 1 with the pods' URL"]["value"] == 0.0
    assert seen["Secret fields differing from the server"]["value"] == 0.0
    assert "synchronous_commit=on" in seen["server durability settings"]["detail"]
    assert seen["acknowledged writes lost"]["value"] == 0
    assert seen["acknowledged writes"]["value"] > 0
    assert seen["TTD (time to detect)"]["value"] < 5
    assert seen["canary RPO"]["value"] == 0.0  # crash recovery kept the harness's rows too
    gap = seen["canary longest gap"]  # the database took none of the harness's writes meanwhile
    assert gap["value"] > 0.05, gap  # longer than one canary interval
    assert not gap["detail"].startswith("0 canary write(s) failed"), gap
    _as_found(project)


@pytest.mark.extended
def test_a_wrong_host_in_the_secret_is_found_and_fixed(project: Path) -> None:
    before = _secret_url(project)
    code, scenario, output = _drill(project, "--variant", "bad-secret")
    assert (code, scenario["verdict"]) == (0, "PASS"), f"{scenario['reason']}\n{output[-3000:]}"
    seen = figures(scenario)
    ttd = seen["TTD (time to detect)"]
    assert ttd["value"] is not None, ttd
    assert "probe failed" in ttd["detail"] or "CrashLoopBackOff" in ttd["detail"], ttd
    assert seen["database server running"]["value"] == 1.0
    assert seen["SELECT 1 with the pods' URL"]["value"] == 0.0
    assert WRONG_HOST in seen["Secret fields differing from the server"]["detail"]
    budget = seen["error ratio after the fault"]
    assert budget["value"] <= budget["target"]
    assert seen["acknowledged writes lost"]["value"] == 0
    assert _secret_url(project) == before
    _as_found(project)


@pytest.mark.extended
def test_netpol_is_not_enforced_in_the_sandbox(project: Path) -> None:
    code, scenario, _ = _drill(project, "--variant", "netpol")
    assert scenario["verdict"] == "COULD_NOT_VERIFY", scenario["reason"]
    assert code != 0
    assert "nothing enforces NetworkPolicy" in scenario["reason"]
    assert [r["outcome"] for r in scenario["rollbacks"]] == ["done"]
    names = kubectl(project, "get", "networkpolicies", "-o", "jsonpath={.items[*].metadata.name}")
    assert "drills-deny-database-egress" not in names


@pytest.mark.extended
def test_drills_rollback_starts_the_database_after_a_kill_while_it_is_down(
    project: Path, tmp_path: Path
) -> None:
    """SIGKILL at the runbook's step 1, the server down: `drills rollback` alone starts it on
    its data and port (kill_once compares the whole sandbox fingerprint and the orders)."""
    point = KillPoint(DRILL, "step:3=SIGKILL", "start of 'Database up?', the server stopped")
    result = kill_once(project, point, tmp_path)
    assert result.restored, result.describe()
    assert result.pending_after_exit == 1
    assert result.rollback_code == 0
    _as_found(project)
