"""Scripted trainees through the `snapshot-restore` practical on a real sandbox (RUNBOOKS §3.6).

The real CLI starts the practical: a snapshot of the shop's database (pg_dump in moto S3),
users writing after it, then the hidden variant destroys orders on the primary. The trainee
follows [004] § Data Loss Scenario with the tools the page names: `kubectl` (their own user in
the audit log), `psql`/`pg_dump`/`pg_restore` (their own role, whose statements the server
logs) and `aws` against moto (its request recording, under their own access key). Who stops
writes, keeps evidence, fetches the newest dump, restores it and restarts the shop PASSes; who
restores while the shop still writes FAILs on the order (and, never acknowledging the page, on
timeliness). Either way the practical leaves the shop as it found it: 3 replicas Ready, every
order of the snapshot present, nothing pending.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from drills.cli.paths import ProjectPaths
from drills.core.errors import ConfigError
from drills.core.safety import RollbackLedger
from drills.sandbox.postgres import PostgresBinaries
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
    write,
)
from tests.e2e.crash_matrix import lost_acknowledged
from tests.e2e.drill_cli import REPO, kubectl

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

DRILL = "snapshot-restore"
PAGE = "OrdersMissing P0: shop: acknowledged orders gone from the database"
SCALE = "0.1"  # every budget a tenth: ack 30 s, detect 30 s, mitigate 90 s
COUNT = "SELECT count(*) FROM orders"
NOTICE = notice(
    "P0",
    incident="shop orders missing from the database",
    impact="acknowledged orders cannot be read; new orders may fail",
    cause="orders destroyed on the primary database",
    mitigation="writes stopped, evidence dumped, newest dump restored in place, shop restarted",
)


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


class Trainee:
    """What the page gave one trainee: the kubeconfig, the DSN and the AWS endpoint."""

    def __init__(self, root: Path, page: str, work: Path) -> None:
        self.root = root
        self.kubeconfig = Path(printed(page, r"export KUBECONFIG=(\S+)"))
        self.dsn = printed(page, r"psql:\s+psql '([^']+)'")
        aws = printed(page, r"aws:\s+(.+)")
        self.endpoint = printed(aws, r"--endpoint-url (\S+)")
        self.aws_env = dict(re.findall(r"(AWS_[A-Z_]+)=(\S+?);?(?=\s|$)", aws))
        self.work = work
        work.mkdir(exist_ok=True)

    def kubectl(self, *args: str) -> str:
        return kubectl_as(self.root, self.kubeconfig, *args)

    def postgres(self, tool: str, *args: str, check: bool = True) -> str:
        """A PostgreSQL client (psql, pg_dump, pg_restore) with the trainee's DSN."""
        done = subprocess.run(
            [postgres_tool(tool), *args],
            check=check,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.work,
        )
        return done.stdout + done.stderr

    def count(self) -> str:
        """`psql -c 'SELECT count(*) FROM orders'`: the count, or the error it printed."""
        return self.postgres("psql", self.dsn, "-X", "-A", "-t", "-c", COUNT, check=False)

    def aws(self, *args: str) -> str:
        """`aws --endpoint-url <moto> ...` with the test credentials the page printed."""
        done = subprocess.run(
            [str(Path(sys.executable).parent / "aws"), "--endpoint-url", self.endpoint, *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.work,
            env={**os.environ, **self.aws_env},
        )
        return done.stdout

    def newest_dump(self) -> str:
        """`aws s3 ls --recursive | sort | tail -1`: the key of the newest dump."""
        listing = self.aws("s3", "ls", "s3://drills-backups/", "--recursive")
        rows = sorted(line.split() for line in listing.splitlines() if line.endswith(".pgc"))
        assert rows, listing
        return rows[-1][-1]

    def fetch_and_restore(self) -> None:
        """[004] step 3: the newest dump from S3, restored in place over what is left.

        In one transaction: restored while the shop still writes (the bad trainee), a restore in
        pieces races the shop's inserts (ids from a reset sequence collide with the dump's when
        the primary key is added); whole, the shop's writes wait for it or fail.
        """
        self.aws("s3", "cp", f"s3://drills-backups/{self.newest_dump()}", "newest.pgc")
        restore = ("--clean", "--if-exists", "--single-transaction", "-d", self.dsn, "newest.pgc")
        self.postgres("pg_restore", *restore)

    def preserve_evidence(self) -> None:
        """[004] step 2: the damaged database dumped, and the shop's logs saved."""
        self.postgres("pg_dump", self.dsn, "-f", "evidence.sql")
        assert (self.work / "evidence.sql").stat().st_size > 0
        (self.work / "logs.txt").write_text(self.shop_logs())

    def shop_logs(self) -> str:
        """`kubectl logs deployment/shop > logs.txt`: at 0 replicas there may be no pod left.

        [004] saves them after writes stopped, when the pods are terminating or gone; the step
        is optional in the grade, and kubectl's refusal is what the trainee would see.
        """
        kubectl = str(REPO / ".drills" / "bin" / "kubectl")
        logs = ("logs", "deployment/shop", "--all-containers=true", "--tail=200")
        done = subprocess.run(
            [kubectl, "--kubeconfig", str(self.kubeconfig), *logs],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.root,
        )
        return done.stdout if done.returncode == 0 else done.stderr


def postgres_tool(name: str) -> str:
    """The sandbox's own PostgreSQL client binaries, else one on PATH."""
    try:
        return PostgresBinaries.locate().path(name)
    except ConfigError:
        found = shutil.which(name)
        if found is None:
            pytest.skip(f"no {name}: install the pgserver wheel (make test does)")
        return found


def start(root: Path, trainee: str, variant: str) -> Trainee:
    out = start_practical(root, DRILL, trainee, variant, time_scale=SCALE, page=PAGE)
    return Trainee(root, out, root / f"work-{trainee}")


def endpoints(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / ".drills" / "sandbox" / "endpoints.json").read_text())
    return data


def lost_orders(root: Path) -> str:
    """Acknowledged orders of every practical in `root` missing or altered on the primary.

    The practical's clean-up puts back what the fault destroyed (its kept copy) and what only
    the primary had when the service moved back from a restored instance.
    """
    lost = lost_acknowledged(root, since_s=0.0)
    return f"{len(lost)} acknowledged order(s) lost or altered, e.g. {lost[:3]}" if lost else ""


def left_as_found(root: Path, *, every_order: bool = False) -> str:
    """What differs from the shop at rest (3 replicas Ready, orders readable); '' if nothing.

    `every_order`: every acknowledged order is on the primary too (not after a trainee who
    restored while the shop still wrote: the writes their restore wiped are nowhere to copy).
    """
    deployment = json.loads(kubectl(root, "get", "deployment", "shop", "-o", "json"))
    wanted = deployment["spec"].get("replicas")
    ready = deployment["status"].get("readyReplicas") or 0
    with psycopg.connect(endpoints(root)["database_dsn"], connect_timeout=10) as app:
        orders = app.execute("SELECT count(*) FROM orders").fetchone()
    problems = [
        f"spec.replicas {wanted}" if wanted != 3 else "",
        f"{ready} Ready" if ready != 3 else "",
        "no orders" if not orders or orders[0] == 0 else "",
        "rollbacks pending" if RollbackLedger(ProjectPaths(root).ledger).pending() else "",
        "session left" if (root / ".drills" / "certify" / "session").exists() else "",
        lost_orders(root) if every_order else "",
    ]
    return "; ".join(p for p in problems if p)


def test_a_trainee_who_follows_the_data_loss_procedure_passes(project: Path) -> None:
    alice = start(project, "alice", "drop-table")
    assert certify(project, "ack")[0] == 0
    detected = investigated = now()
    assert "does not exist" in alice.count()  # the variant is real: the table is gone
    assert certify(project, "notice", str(write(project, "n-alice.txt", NOTICE)))[0] == 0
    alice.kubectl("scale", "deployment/shop", "--replicas=0")  # [004] 1: stop writes
    alice.preserve_evidence()  # [004] 2
    fixed = now()
    alice.fetch_and_restore()  # [004] 3
    alice.kubectl("scale", "deployment/shop", "--replicas=3")  # [004] 4: restart
    alice.kubectl("rollout", "status", "deployment/shop", "--timeout=120s")
    assert int(alice.count()) > 0  # verify: the orders are back
    restored = now()
    pm = write(project, "pm-alice.md", postmortem(detected, investigated, fixed, restored))
    assert certify(project, "postmortem", str(pm))[0] == 0
    code, out = certify(project, "finish", timeout_s=600)
    grade = grade_of(project, "alice")
    assert code == 0, out
    assert grade["verdict"] == "PASS", json.dumps(grade["payload"]["criteria"], indent=1)
    assert grade["variant"] == "drop-table"
    assert set(verdicts(grade).values()) == {"PASS"}, verdicts(grade)
    assert left_as_found(project, every_order=True) == ""


def test_restoring_while_the_shop_still_writes_fails_on_the_order(project: Path) -> None:
    bob = start(project, "bob", "delete-rows")  # and never acknowledges the page
    assert int(bob.count()) > 0  # one row in ten is left: the damage is partial
    assert certify(project, "notice", str(write(project, "n-bob.txt", NOTICE)))[0] == 0
    bob.fetch_and_restore()  # the hazard [004] orders against: writes still flowing
    bob.kubectl("scale", "deployment/shop", "--replicas=0")
    bob.preserve_evidence()
    bob.kubectl("scale", "deployment/shop", "--replicas=3")
    bob.kubectl("rollout", "status", "deployment/shop", "--timeout=120s")
    code, out = certify(project, "finish", timeout_s=600)
    assert code == 1, out
    grade = grade_of(project, "bob")
    assert grade["verdict"] == "FAIL"
    found = criteria(grade)
    assert found["order"]["verdict"] == "FAIL", verdicts(grade)
    assert any("restore" in r and "stop-writes" in r for r in found["order"]["reasons"])
    assert found["timeliness"]["verdict"] == "FAIL"
    assert "never acknowledged the page" in found["timeliness"]["reasons"]
    assert found["post-mortem"]["verdict"] == "FAIL"  # none was filed
    assert left_as_found(project) == ""
