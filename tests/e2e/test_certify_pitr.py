"""Scripted trainees through the `pitr` practical on a real sandbox (RUNBOOKS §3.7).

The real CLI starts the practical: the primary registered on moto as `shop-db`, a base backup,
users writing, then the hidden variant damages every order at T (the page's `since`). The
trainee reads the orders with psql (their own logged role), asks moto for a point-in-time
restore with `aws rds restore-db-instance-to-point-in-time` (their own access key, in moto's
request recording), waits until `describe-db-instances` shows the instance's `drills:psql` tag
(the proctor replayed base backup + WAL into a new local PostgreSQL, paused before promotion),
checks the data there, runs `SELECT pg_promote()`, writes the shop's Secret and restarts the
shop. Who does that with a point just before T PASSes every criterion; who restores to a point
after the damage and promotes without looking FAILs on the outcome (orders still damaged) and
on the steps (check-data missing). Either way the practical leaves the shop on the primary,
3 replicas Ready, nothing pending, no restored instance (directory or moto record).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from drills.cli.paths import ProjectPaths
from drills.core.clock import SystemClock
from drills.core.safety import RollbackLedger
from drills.core.waiting import wait_until
from drills.sandbox.aws import DUMMY_CREDENTIALS
from tests.e2e.certify_cli import (
    certify,
    criteria,
    grade_of,
    kubectl_as,
    notice,
    now,
    postmortem,
    printed,
    start_practical,
    verdicts,
)
from tests.e2e.certify_cli import write as write_file
from tests.e2e.drill_cli import kubectl
from tests.e2e.test_certify_snapshot import lost_orders, postgres_tool

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

DRILL = "pitr"
PAGE = "OrdersCorrupted P1: database: orders damaged by a bad statement"
SCALE = "0.1"
READ = "SELECT count(*), sum(quantity) FROM orders"
NOTICE = notice(
    "P1",
    incident="shop orders damaged by a bad statement",
    impact="acknowledged orders wrong or missing",
    cause="a statement without WHERE ran on the orders table",
    mitigation="point-in-time recovery to just before the damage, promoted, shop repointed",
)


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


class Trainee:
    """What the page gave one trainee: kubeconfig, DSN, the AWS endpoint and T."""

    def __init__(self, root: Path, page: str) -> None:
        self.root = root
        self.kubeconfig = Path(printed(page, r"export KUBECONFIG=(\S+)"))
        self.dsn = printed(page, r"psql:\s+psql '([^']+)'")
        aws = printed(page, r"aws:\s+(.+)")
        self.endpoint = printed(aws, r"--endpoint-url (\S+)")
        self.aws_env = dict(re.findall(r"(AWS_[A-Z_]+)=(\S+?);?(?=\s|$)", aws))
        self.since = datetime.fromisoformat(printed(page, r"since (\S+)"))

    def kubectl(self, *args: str) -> str:
        return kubectl_as(self.root, self.kubeconfig, *args)

    def psql(self, dsn: str, sql: str) -> str:
        done = subprocess.run(
            [postgres_tool("psql"), dsn, "-X", "-A", "-t", "-c", sql],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout.strip()

    def aws(self, *args: str) -> dict[str, Any]:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "aws"), "--endpoint-url", self.endpoint, *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **self.aws_env},
        )
        answer: dict[str, Any] = json.loads(done.stdout or "{}")
        return answer

    def restore(self, name: str, when: datetime) -> None:
        """§3.7 step 1: restore-db-instance-to-point-in-time on moto."""
        self.aws(
            "rds",
            "restore-db-instance-to-point-in-time",
            "--source-db-instance-identifier",
            "shop-db",
            "--target-db-instance-identifier",
            name,
            "--restore-time",
            when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def restored_tags(self, name: str) -> dict[str, str]:
        """Wait until describe-db-instances shows where the restore listens; its tags."""
        tags: dict[str, str] = {}

        def ready() -> bool:
            found = self.aws("rds", "describe-db-instances", "--db-instance-identifier", name)
            tags.clear()
            for tag in found["DBInstances"][0].get("TagList", []):
                tags[tag["Key"]] = tag["Value"]
            return "drills:psql" in tags or tags.get("drills:state", "").startswith("failed")

        wait_until(ready, clock=SystemClock(), timeout_s=180, poll_s=1.0, description=name)
        assert "drills:psql" in tags, tags
        return tags

    def repoint_and_restart(self, app_url: str) -> None:
        """§3.7 step 5: the shop's Secret, then a rollout restart."""
        patch = json.dumps({"stringData": {"url": app_url}})
        self.kubectl("patch", "secret", "shop-database", "-p", patch)
        self.kubectl("rollout", "restart", "deployment/shop")
        self.kubectl("rollout", "status", "deployment/shop", "--timeout=120s")


def start(root: Path, trainee: str, variant: str) -> Trainee:
    out = start_practical(root, DRILL, trainee, variant, time_scale=SCALE, page=PAGE)
    return Trainee(root, out)


def endpoints(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / ".drills" / "sandbox" / "endpoints.json").read_text())
    return data


def left_as_found(root: Path) -> str:
    """What differs from the shop at rest; '' when nothing does."""
    found = endpoints(root)
    deployment = json.loads(kubectl(root, "get", "deployment", "shop", "-o", "json"))
    secret = json.loads(kubectl(root, "get", "secret", "shop-database", "-o", "json"))
    url = base64.b64decode(secret["data"]["url"]).decode()
    ready = deployment["status"].get("readyReplicas") or 0
    rds = boto3.client(
        "rds",
        endpoint_url=found["aws_endpoint"],
        aws_access_key_id="left-as-found",
        aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
        region_name=DUMMY_CREDENTIALS["region_name"],
    )
    records = [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]
    restored = sorted(p.name for p in (root / ".drills" / "sandbox" / "postgres").glob("rds-*"))
    problems = [
        f"shop on {url}" if urlsplit(url).port != urlsplit(found["database_dsn"]).port else "",
        f"spec.replicas {deployment['spec'].get('replicas')}"
        if deployment["spec"].get("replicas") != 3
        else "",
        f"{ready} Ready" if ready != 3 else "",
        f"moto records {records}" if records else "",
        f"restored instances {restored}" if restored else "",
        "rollbacks pending" if RollbackLedger(ProjectPaths(root).ledger).pending() else "",
        "session left" if (root / ".drills" / "certify" / "session").exists() else "",
        lost_orders(root),
    ]
    return "; ".join(p for p in problems if p)


def test_a_trainee_who_recovers_to_just_before_the_damage_passes(project: Path) -> None:
    alice = start(project, "alice", "destructive-delete")
    assert certify(project, "ack")[0] == 0
    detected = investigated = now()
    assess = alice.psql(alice.dsn, READ)  # §3.7: the damage and its time
    assert certify(project, "notice", str(write_file(project, "n-alice.txt", NOTICE)))[0] == 0
    point = alice.since.replace(microsecond=0) - timedelta(seconds=1)
    alice.restore("shop-db-alice", point)
    tags = alice.restored_tags("shop-db-alice")
    assert tags["drills:state"].startswith("paused"), tags
    checked = alice.psql(tags["drills:psql"], READ)  # step 2: check the data before promoting
    assert int(checked.split("|")[0]) > int(assess.split("|")[0]), (assess, checked)
    fixed = now()
    assert alice.psql(tags["drills:psql"], "SELECT pg_promote()") == "t"  # step 3
    alice.repoint_and_restart(tags["drills:app-url"])  # step 5
    restored = now()
    pm = write_file(project, "pm-alice.md", postmortem(detected, investigated, fixed, restored))
    assert certify(project, "postmortem", str(pm))[0] == 0
    code, out = certify(project, "finish", timeout_s=600)
    grade = grade_of(project, "alice")
    assert grade["verdict"] == "PASS", json.dumps(grade["payload"]["criteria"], indent=1)
    assert code == 0, out
    assert grade["variant"] == "destructive-delete"
    assert set(verdicts(grade).values()) == {"PASS"}, verdicts(grade)
    assert left_as_found(project) == ""


def test_restoring_past_the_damage_and_promoting_unchecked_fails(project: Path) -> None:
    bob = start(project, "bob", "bad-update")
    assert certify(project, "ack")[0] == 0
    bob.psql(bob.dsn, READ)
    assert certify(project, "notice", str(write_file(project, "n-bob.txt", NOTICE)))[0] == 0
    clock = SystemClock()
    wait_until(
        lambda: clock.wall() > bob.since + timedelta(seconds=4),
        clock=clock,
        timeout_s=10,
        poll_s=0.2,
        description="a few seconds past the damage",
    )
    late = clock.wall().replace(microsecond=0) - timedelta(seconds=1)  # after the damage
    bob.restore("shop-db-bob", late)
    tags = bob.restored_tags("shop-db-bob")
    assert bob.psql(tags["drills:psql"], "SELECT pg_promote()") == "t"  # nothing checked
    bob.repoint_and_restart(tags["drills:app-url"])
    code, out = certify(project, "finish", timeout_s=600)
    assert code == 1, out
    grade = grade_of(project, "bob")
    assert grade["verdict"] == "FAIL"
    found = criteria(grade)
    assert found["outcome"]["verdict"] == "FAIL", verdicts(grade)
    assert found["steps"]["verdict"] == "FAIL", verdicts(grade)
    assert any("check-data" in r for r in found["steps"]["reasons"]), found["steps"]
    assert left_as_found(project) == ""
