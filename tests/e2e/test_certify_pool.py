"""Scripted trainees through `drills certify` on the `db-pool-exhaustion` practical (§3.5).

The real CLI starts the practical (a leak of the hidden variant fills every ordinary connection
slot under Locust), the trainee works with `psql` and the DSN the page prints (their own role,
whose statements the server logs), records ack/notice/post-mortem, and `drills certify finish`
grades from the statement log and the proctor's journal. A trainee who sizes the sessions and
terminates the idle backends by the runbook's rule PASSes, for both variants; one who
terminates every session, active ones included, FAILs on safety, naming the hazard. Either
way the practical leaves the environment as it found it: no leaked session, the shop serving.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import pytest

from drills.cli.paths import ProjectPaths
from drills.core.clock import SystemClock
from drills.core.conditions import Observation
from drills.core.errors import ConfigError
from drills.core.profile import PoolSettings, load_profile
from drills.core.safety import RollbackLedger
from drills.core.waiting import wait_until
from drills.sandbox.postgres import PostgresBinaries
from tests.e2e.certify_cli import (
    certify,
    criteria,
    grade_of,
    notice,
    now,
    postmortem,
    printed,
    start_practical,
    verdicts,
    write,
)
from tests.e2e.drill_cli import kubectl

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

DRILL = "db-pool-exhaustion"
PAGE = "DatabaseConnectionsExhausted P1: shop: new database connections refused"
SCALE = "0.1"  # every budget a tenth: ack 30 s, detect 30 s, mitigate 90 s
SIZE = "SELECT state, count(*) FROM pg_stat_activity GROUP BY state"
FREE_SLOTS = (  # ordinary slots left: max_connections - superuser_reserved - client backends
    "SELECT current_setting('max_connections')::int - "
    "current_setting('superuser_reserved_connections')::int - count(*) "
    "FROM pg_stat_activity WHERE backend_type = 'client backend'"
)
EVERY_SESSION = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
)

NOTICE = notice(
    "P1",
    incident="shop database connections exhausted",
    impact="new database connections refused; shop requests may fail",
    cause="leaked sessions hold every ordinary connection slot",
    mitigation="terminate idle backends older than the idle rule (pg_terminate_backend)",
)


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def start(root: Path, trainee: str, variant: str) -> str:
    """Start the practical; return the trainee's DSN from the page."""
    out = start_practical(root, DRILL, trainee, variant, time_scale=SCALE, page=PAGE)
    return printed(out, r"psql:\s+psql '([^']+)'")


def psql() -> str:
    """The PostgreSQL client the trainee types into: the sandbox's own, else one on PATH."""
    try:
        return PostgresBinaries.locate().path("psql")
    except ConfigError:
        found = shutil.which("psql")
        if found is None:
            pytest.skip("no psql: install the pgserver wheel (make test does)")
        return found


def as_trainee(dsn: str, statement: str) -> list[list[str]]:
    """One statement through psql with the trainee's DSN (their role's statements are logged)."""
    done = subprocess.run(
        [psql(), dsn, "-X", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", statement],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [line.split("|") for line in done.stdout.splitlines() if line]


def sessions_by_state(dsn: str) -> dict[str, int]:
    """Runbook step 1: the sessions grouped by state."""
    return {state or "n/a": int(count) for state, count in as_trainee(dsn, SIZE)}


def pool_settings(root: Path) -> PoolSettings:
    """The sandbox's [pool]: the idle rule's age (10 min x idle_scale) and the headroom."""
    return load_profile(root / "fixtures" / "environments" / "sandbox.toml").pool


def terminate_statement(state: str, age_s: float) -> str:
    """The runbook's rule [003]: in `state` for longer than the idle age, by `state_change`."""
    return (
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = '{state}' "
        f"AND state_change < now() - interval '{age_s:g} seconds'"
    )


def terminate_until_drained(dsn: str, statement: str, *, headroom: int) -> int:
    """Terminate by the rule, then count the free slots; again while the leak is younger.

    Returns how many backends the rule ended in all.
    """
    ended: list[int] = []

    def drained() -> Observation:
        ended.append(sum(1 for [ok] in as_trainee(dsn, statement) if ok == "t"))
        [[free]] = as_trainee(dsn, FREE_SLOTS)
        return Observation(int(free) >= headroom, f"{free} ordinary slots free after {sum(ended)}")

    wait_until(drained, clock=SystemClock(), timeout_s=45, poll_s=1.0)
    return sum(ended)


def endpoints(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / ".drills" / "sandbox" / "endpoints.json").read_text())
    return data


def assert_left_as_found(root: Path) -> None:
    """No session of any leak, the shop's role connects, the shop is ready, nothing pending."""
    found = endpoints(root)
    with psycopg.connect(found["admin_dsn"], connect_timeout=10) as admin:
        leaked = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'drills-leak-%'"
        ).fetchone()
    assert leaked == (0,)
    with psycopg.connect(found["database_dsn"], connect_timeout=10) as app:
        assert app.execute("SELECT 1").fetchone() == (1,)
    with urllib.request.urlopen(f"{found['service_url']}/readyz", timeout=10) as ready:
        assert ready.status == 200
    deployment = json.loads(kubectl(root, "get", "deployment", "shop", "-o", "json"))
    assert deployment["status"].get("readyReplicas") == deployment["spec"]["replicas"]
    assert RollbackLedger(ProjectPaths(root).ledger).pending() == []
    assert not (root / ".drills" / "certify" / "session").exists()


@pytest.mark.parametrize(
    ("trainee", "variant", "leaked_state"),
    [
        ("alice", "idle-leak", "idle"),
        # the same grading with the other leak state: make test-all only (the CI time budget)
        pytest.param(
            "dave",
            "idle-in-transaction-leak",
            "idle in transaction",
            marks=pytest.mark.extended,
        ),
    ],
)
def test_a_trainee_who_terminates_idle_backends_by_the_rule_passes(
    project: Path, trainee: str, variant: str, leaked_state: str
) -> None:
    dsn = start(project, trainee, variant)
    assert certify(project, "ack")[0] == 0
    detected = investigated = now()
    states = sessions_by_state(dsn)
    assert states.get(leaked_state, 0) > states.get("active", 0), states  # the variant is real
    as_trainee(dsn, "SHOW max_connections")
    # the runbook's rule says state = 'idle'; a leak idle in transaction needs that state instead
    idle_in_transaction = states.get("idle in transaction", 0) > states.get("idle", 0)
    state = "idle in transaction" if idle_in_transaction else "idle"
    assert state == leaked_state, states
    assert certify(project, "notice", str(write(project, f"notice-{trainee}.txt", NOTICE)))[0] == 0
    pool = pool_settings(project)
    fixed = now()
    rule = terminate_statement(state, pool.idle_age_s)
    ended = terminate_until_drained(dsn, rule, headroom=pool.headroom)
    assert ended > pool.headroom, f"the rule ended only {ended} backends"
    restored = now()
    report = postmortem(detected, investigated, fixed, restored)
    assert certify(project, "postmortem", str(write(project, f"pm-{trainee}.md", report)))[0] == 0
    code, out = certify(project, "finish")
    grade = grade_of(project, trainee)
    assert code == 0, out
    assert grade["verdict"] == "PASS", json.dumps(grade["payload"]["criteria"], indent=1)
    assert grade["variant"] == variant
    assert set(verdicts(grade).values()) == {"PASS"}, verdicts(grade)
    timeline = [e.get("what") or "" for e in grade["payload"]["timeline"]]
    assert any(e.startswith("psql on shop") for e in timeline), timeline
    assert_left_as_found(project)


def test_terminating_every_session_fails_on_safety_naming_the_hazard(project: Path) -> None:
    dsn = start(project, "bob", "idle-leak")
    assert certify(project, "ack")[0] == 0
    sessions_by_state(dsn)
    as_trainee(dsn, EVERY_SESSION)  # active sessions too: backups, migrations, the shop's queries
    assert certify(project, "notice", str(write(project, "notice-bob.txt", NOTICE)))[0] == 0
    code, out = certify(project, "finish")
    assert code == 1, out
    grade = grade_of(project, "bob")
    assert grade["verdict"] == "FAIL"
    found = criteria(grade)
    assert found["safety"]["verdict"] == "FAIL", verdicts(grade)
    [reason] = found["safety"]["reasons"]
    assert "hazardous action terminate-every-active-query" in reason
    assert "kills long backups and migrations" in reason
    assert found["steps"]["verdict"] == "FAIL"  # no terminate with the idle filter was seen
    assert any("terminate-idle" in r for r in found["steps"]["reasons"])
    assert found["post-mortem"]["verdict"] == "FAIL"  # none was filed
    assert_left_as_found(project)
