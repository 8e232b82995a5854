"""A trainee's identities on the real API server and PostgreSQL, and the evidence readers on them.

The trainee's kubeconfig (CN `drills-trainee:<name>`, issued from the control plane's CA) must
appear as that user in the audit log, and the evidence reader must return exactly what they
did; the trainee's database role must have its statements, and only its, in the server log.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from drills.certification.evidence import read_audit_log, read_sql_log
from drills.certification.identity import db_role, issue_kubeconfig, kube_user
from drills.core.actions import Action, Source
from drills.core.clock import SystemClock
from drills.core.conditions import Observation
from drills.core.waiting import wait_until
from drills.sandbox.postgres import PostgresBinaries
from drills.targets.adapters.trainee_role import (
    create_trainee_role,
    drop_trainee_role,
    trainee_dsn,
)
from tests.sandbox.cluster import control_plane
from tests.sandbox.pgkit import local_postgres
from tests.sandbox.sandbox_root import REPO

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's pod network needs root"),
]
KUBECTL = REPO / ".drills" / "bin" / "kubectl"


def _eventually(read: object, description: str) -> None:
    def probe() -> Observation:
        found = read()  # type: ignore[operator]
        return Observation(ok=bool(found), detail=f"{len(found)} actions")

    wait_until(probe, clock=SystemClock(), timeout_s=20, poll_s=0.2, description=description)


def test_kubectl_as_the_trainee_is_in_the_audit_log_under_their_name(tmp_path: Path) -> None:
    if not KUBECTL.exists():
        pytest.skip("kubectl missing: run `make .drills/bin/kubectl` (make test does)")
    with control_plane() as cluster:
        config = issue_kubeconfig("alice", sandbox_state=cluster.state, certify_dir=tmp_path)
        done = subprocess.run(
            [str(KUBECTL), f"--kubeconfig={config}", "get", "pods"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        user = kube_user("alice")

        def pods_listed() -> list[Action]:
            read = read_audit_log(cluster.plane.audit_log, user)
            return [a for a in read.actions if a.verb == "list" and a.resource == "pods"]

        _eventually(pods_listed, "the trainee's `kubectl get pods` in the audit log")
        listed = pods_listed()[0]
        assert listed.actor == user
        assert listed.source is Source.KUBE
        assert listed.summary == "kubectl get pods"
        assert listed.code == 200
        everyone = read_audit_log(cluster.plane.audit_log, "drills-admin").actions
        assert all(a.actor == "drills-admin" for a in everyone)


def test_the_trainee_role_logs_its_statements_and_nobody_elses() -> None:
    psql = PostgresBinaries.locate().path("psql")
    with local_postgres() as kit:
        admin = kit.primary.admin_dsn()
        role = db_role("alice")
        create_trainee_role(admin, role)
        create_trainee_role(admin, role)  # again: reset, not an error
        dsn = trainee_dsn(admin, role)
        statement = "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle';"
        done = subprocess.run(
            [psql, dsn, "-c", statement], capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 0, done.stderr
        with psycopg.connect(kit.primary.dsn()) as app:
            app.execute("SELECT 'the application, not the trainee'")

        def mine() -> list[Action]:
            return list(read_sql_log([kit.primary.log_path], role).actions)

        _eventually(mine, "the trainee's statement in the server log")
        assert [(a.actor, a.text, a.agent, a.name) for a in mine()] == [
            (role, statement, "psql", "shop")
        ]
        drop_trainee_role(admin, role)
        with psycopg.connect(admin) as conn:
            gone = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        assert gone is None
