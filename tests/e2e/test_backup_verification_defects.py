"""`backup-verification` end to end through `drills run`: real backups, a real test restore.

On the shared sandbox (tests/e2e/conftest.py; the module must leave it at its fingerprint).
Each run prepares its own backup chain (a CronJob whose Jobs `pg_dump | gzip` the shop's database
into moto S3) and removes it; every test checks nothing of it is left: no CronJob, Job, pod,
object or RDS record, and no throwaway PostgreSQL. The defect `make test` keeps is the truncated
dump (variant `truncated`): the Jobs succeed while every dump they upload is cut halfway, and
only the test restore can tell, so the drill must FAIL naming the truncated dump and the failed
restore. The healthy chain's PASS and the other negatives are `extended` (make test-all).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.drill_cli import figures, kubectl, objective, run_drill, sandbox_endpoints

DRILL = "backup-verification"
STEPS = [
    "The schedule runs: wait for cronjob/shop-db-backup's next Job",
    "aws rds describe-db-instances: BackupRetentionPeriod, expect 7",
    "Newest three backups and their age",
    "Job health: kubectl get cronjobs, kubectl logs -l job-name=<last Job>",
    "Manual backup: kubectl create job --from=cronjob/shop-db-backup",
    "Test restore: the newest dump into a throwaway instance",
    "Check the data: row counts and checksums vs the source",
    "aws rds delete-db-instance --skip-final-snapshot: the throwaway gone",
    "Retention clean-up, safe form: remove only backups older than 30 d",
]
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _aws(root: Path, service: str) -> Any:
    factory: Any = boto3.client  # the service's name is a variable: no overload applies
    return factory(
        service,
        endpoint_url=sandbox_endpoints(root)["aws_endpoint"],
        aws_access_key_id="e2e",
        aws_secret_access_key="e2e",
        region_name="us-east-1",
    )


def _left(root: Path) -> list[str]:
    """What a run left of its chain: CronJobs, Jobs, backup pods, objects, RDS records."""
    left = kubectl(root, "get", "cronjobs,jobs", "-o", "name").split()
    left += [
        p
        for p in kubectl(root, "get", "pods", "-l", "drills.dev/backup", "-o", "name").split()
        if p
    ]
    s3 = _aws(root, "s3")
    if "drills-backups" in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        objects = s3.list_objects_v2(Bucket="drills-backups", Prefix="backups/")
        left += [str(o["Key"]) for o in objects.get("Contents", [])]
    rds = _aws(root, "rds").describe_db_instances()["DBInstances"]
    left += [
        str(i["DBInstanceIdentifier"])
        for i in rds
        if i["DBInstanceIdentifier"].startswith("shop-db")
    ]
    return left


def _run(root: Path, variant: str) -> tuple[int, dict[str, Any]]:
    run = run_drill(root, DRILL, "--variant", variant)
    print(run.output[-4000:])  # noqa: T201 - shown with a failing test's captured output
    for name, seen in figures(run.scenario).items():
        print(f"{name}: {seen['value']} {seen['unit']} ({seen.get('detail', '')[:300]})")  # noqa: T201
    assert _left(root) == []
    return run.code, run.scenario


def _common(scenario: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert [s["name"] for s in scenario["steps"]] == STEPS
    seen = figures(scenario)
    assert seen["throwaway instances left"]["value"] == 0
    assert seen["backups younger than 30 days removed"]["value"] == 0
    assert seen["manual backup duration"]["value"] > 0
    budget = seen["error ratio during the checks"]
    assert budget["value"] is not None
    assert budget["value"] <= budget["target"]
    return seen


def test_a_truncated_dump_fails_the_test_restore(project: Path) -> None:
    code, scenario = _run(project, "truncated")
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    reason = scenario["reason"]
    assert "is truncated: pg_dump's closing line" in reason
    assert "the test restore failed: psql stopped" in reason
    seen = _common(scenario)
    assert seen["scheduled backup Jobs"]["value"] >= 1  # the Jobs succeed: the break is silent
    assert "succeeded 1" in seen["manual backup duration"]["detail"]
    assert objective(scenario, "RTO")["verdict"] == "COULD_NOT_VERIFY"


@pytest.mark.extended
def test_the_healthy_chain_passes(project: Path) -> None:
    code, scenario = _run(project, "healthy")
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    seen = _common(scenario)
    assert {s["outcome"] for s in scenario["steps"]} == {"ok"}
    assert seen["backup retention"]["value"] == 7
    assert seen["scheduled backup Jobs"]["value"] >= 1
    assert "uploaded s3://drills-backups/" in seen["scheduled backup Jobs"]["detail"]
    assert seen["tables differing from the source"]["value"] == 0
    assert seen["restored rows"]["value"] > 0
    rto, rpo = objective(scenario, "RTO"), objective(scenario, "RPO")
    assert 0 < rto["measured_s"] < rto["target_s"]
    assert 0 < rpo["measured_s"] < rpo["target_s"]


@pytest.mark.extended
def test_a_suspended_cronjob_fails(project: Path) -> None:
    code, scenario = _run(project, "suspended")
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    assert "the backup CronJob is suspended" in scenario["reason"]
    seen = _common(scenario)
    assert seen["scheduled backup Jobs"]["value"] == 0


@pytest.mark.extended
def test_retention_below_seven_fails(project: Path) -> None:
    code, scenario = _run(project, "retention-low")
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    assert "BackupRetentionPeriod is 3 day(s), below the 7" in scenario["reason"]
    assert figures(scenario)["backup retention"]["value"] == 3


@pytest.mark.extended
def test_a_daily_schedule_fails_the_rpo(project: Path) -> None:
    code, scenario = _run(project, "stale")
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    assert "the backup schedule '0 3 * * *' runs every 1.0 d" in scenario["reason"]
