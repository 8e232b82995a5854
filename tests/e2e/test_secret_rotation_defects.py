"""`secret-rotation` end to end through `drills run`: the runbook's order PASSES, the wrong FAILS.

On the shared sandbox (tests/e2e/conftest.py; each module must leave it at its fingerprint).
While each run goes, a watcher reads the shop's Secrets as any cluster reader could and keeps
every password it sees in them; afterwards none of those may appear anywhere under the
project's reports/ or in its rollback ledger. The defect is the variant `wrong-order`: the
password changes in PostgreSQL before the Secret and the pods, so the credential the running
pods carry is refused, and the drill must FAIL saying so and naming the order. The last test
SIGKILLs the harness in the middle of the rotation: `drills rollback` must give the sandbox
back as found (original Secret and password, the shop rolled out on it, no login role left).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import psycopg
import pytest

from drills.core.safety import Allowlist
from drills.sandbox.postgres import PASSWORD_ROLE_PREFIX
from drills.targets.adapters.kube import connect
from tests.e2e.crash_matrix import KillPoint, kill_once
from tests.e2e.drill_cli import figures, kubectl, objective, run_drill, sandbox_endpoints

DRILL = "secret-rotation"
SECRETS = ("shop-database", "shop-database-new")
RUNBOOK_STEPS = [
    "Generate the new password (openssl rand -base64 32)",
    "Create the new credential in PostgreSQL beside the old one",
    "kubectl create secret generic shop-database-new",
    "kubectl set env deployment/shop --from=secret/shop-database-new",
    "kubectl rollout restart deployment/shop",
    "Wait for the rollout: every pod runs with the new Secret",
    "Give the new Secret the old name (no kubectl rename: copy, then delete)",
    "Revoke the old credential",
    "Verify: old password refused, new one logs in, users served",
]
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


class SecretWatch:
    """Reads the shop's Secrets every 300 ms and keeps the passwords their URLs carry."""

    def __init__(self, root: Path) -> None:
        kubeconfig = root / ".drills" / "sandbox" / "kubeconfig"
        self.api = connect(kubeconfig, allowlist=Allowlist(kube_contexts=("drills-sandbox",)))
        self.passwords: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="secret-watch", daemon=True)

    def _look(self) -> None:
        for item in self.api.core.list_namespaced_secret("default").items:
            data = item.data or {}
            if item.metadata.name in SECRETS and "url" in data:
                password = urlsplit(base64.b64decode(data["url"]).decode()).password
                if password:
                    self.passwords.add(unquote(password))

    def _run(self) -> None:
        while not self._stop.wait(0.3):
            self._look()

    @contextmanager
    def watching(self) -> Iterator[SecretWatch]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=30)


def _leaks(root: Path, passwords: set[str]) -> list[str]:
    """Every file under reports/ and the rollback ledger that holds one of `passwords`."""
    spellings = {s for p in passwords for s in (p, quote(p, safe=""), json.dumps(p)[1:-1])}
    files = [p for p in (root / "reports").rglob("*") if p.is_file()]
    files.append(root / ".drills" / "rollbacks.jsonl")
    found = []
    for path in files:
        data = path.read_bytes() if path.exists() else b""
        found += [f"{path}" for s in spellings if s.encode() in data]
    return found


def _as_found(root: Path, secret_before: str) -> None:
    """The original Secret, read by the Deployment, rolled out, no rotation role or Secret left."""
    kubectl(root, "rollout", "status", "deployment/shop", "--timeout=90s", timeout_s=100)
    assert _secret_url(root) == secret_before
    env = json.loads(
        kubectl(root, "get", "deployment", "shop", "-o", "jsonpath={.spec.template.spec}")
    )["containers"][0]["env"]
    [url] = [e for e in env if e["name"] == "DATABASE_URL"]
    assert url["valueFrom"]["secretKeyRef"] == {"name": "shop-database", "key": "url"}
    names = kubectl(root, "get", "secrets", "-o", "jsonpath={.items[*].metadata.name}").split()
    assert "shop-database-new" not in names
    assert "shop-database-drills-kept" not in names
    endpoints = sandbox_endpoints(root)
    with psycopg.connect(endpoints["admin_dsn"], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", [f"{PASSWORD_ROLE_PREFIX}%"]
        ).fetchall()
    assert rows == []


def _secret_url(root: Path) -> str:
    raw = kubectl(root, "get", "secret", "shop-database", "-o", "jsonpath={.data.url}")
    return base64.b64decode(raw).decode()


def _drill(root: Path, variant: str) -> tuple[int, dict[str, Any], set[str]]:
    watch = SecretWatch(root)
    with watch.watching():
        run = run_drill(root, DRILL, "--variant", variant)
    return run.code, run.scenario, watch.passwords


def test_the_runbook_order_passes_and_leaks_no_password(project: Path) -> None:
    before = _secret_url(project)
    code, scenario, passwords = _drill(project, "runbook")
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    assert scenario["variant"] == "runbook"
    assert [s["name"] for s in scenario["steps"]] == RUNBOOK_STEPS
    assert {s["outcome"] for s in scenario["steps"]} == {"ok"}
    rto = objective(scenario, "RTO")
    assert 0 < rto["measured_s"] < rto["target_s"]
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    seen = figures(scenario)
    assert seen["refused logins with the pods' credentials"]["value"] == 0
    assert "were accepted" in seen["refused logins with the pods' credentials"]["detail"]
    assert seen["logins accepted with the old password"]["value"] == 0
    assert (
        "password authentication failed" in seen["logins accepted with the old password"]["detail"]
    )
    assert seen["logins refused with the new password"]["value"] == 0
    assert seen["sessions on the old credential when revoked"]["value"] == 0
    budget = seen["error ratio after the fault"]
    assert budget["value"] is not None
    assert budget["value"] <= budget["target"]
    assert seen["acknowledged writes lost"]["value"] == 0
    assert seen["TTD (time to detect)"]["value"] is None  # nothing to detect in the right order
    assert [r["outcome"] for r in scenario["rollbacks"]] == ["done", "done"]
    # the old password (the prepared role's) and the new one were both seen in the Secret
    assert len(passwords) == 2, f"{len(passwords)} passwords seen in the Secrets"
    assert _leaks(project, passwords) == []
    _as_found(project, before)


def test_changing_the_password_first_fails_naming_the_order(project: Path) -> None:
    before = _secret_url(project)
    code, scenario, passwords = _drill(project, "wrong-order")
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    reason = scenario["reason"]
    assert "the database refused the credential the running pods carry" in reason
    assert "password authentication failed" in reason
    assert "the password was changed in PostgreSQL before the Secret and the pods" in reason
    assert "users saw" in reason
    steps = {s["name"]: s["outcome"] for s in scenario["steps"]}
    assert steps["Change the password in PostgreSQL first (wrong order)"] == "ok"
    seen = figures(scenario)
    assert seen["refused logins with the pods' credentials"]["value"] > 0
    ttd = seen["TTD (time to detect)"]
    assert ttd["value"] is not None, ttd
    assert ttd["value"] < 30, ttd
    assert passwords
    assert _leaks(project, passwords) == []
    _as_found(project, before)


def test_drills_rollback_restores_the_sandbox_after_a_kill_mid_rotation(
    project: Path, tmp_path: Path
) -> None:
    """SIGKILL as the rollout onto the new Secret is awaited (step 6): the prepared role, the
    second Secret and the Deployment pointed at it are all in place; `drills rollback` alone
    must give everything back (kill_once compares the whole sandbox fingerprint)."""
    before = _secret_url(project)
    point = KillPoint(DRILL, "step:6=SIGKILL", "start of the wait for the rollout")
    result = kill_once(project, point, tmp_path)
    assert result.restored, result.describe()
    assert result.pending_after_exit == 2  # the preparation's entry and the rotation's
    assert result.rollback_code == 0
    _as_found(project, before)
