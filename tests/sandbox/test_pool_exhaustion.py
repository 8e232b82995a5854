"""Connection pool exhaustion on a real PostgreSQL: fault, symptoms, runbook recovery, rollback."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import psycopg
import pytest

from drills.core.clock import SystemClock
from drills.core.errors import InjectionFailed
from drills.core.waiting import wait_until
from drills.faults.pool import (
    POOL_EXHAUSTION,
    LeakCap,
    PoolExhaustion,
    leak_application_name,
)
from drills.faults.registry import default_registry
from drills.probes.sql import connections_below, connections_refused, sql_reachable
from drills.recovery.terminate_idle import IdleRule, terminate_idle
from drills.targets.adapters.postgres import PostgresSessionHolder
from tests.sandbox.pgkit import PgKit, local_postgres

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def kit() -> Iterator[PgKit]:
    with local_postgres(max_connections=20) as started:
        yield started


class ActiveQuery(threading.Thread):
    """A session busy in a long query: the idle rule must never terminate it."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.outcome: str | None = None
        self.started_query = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True, application_name="drills-active") as c:
            self.started_query.set()
            try:
                c.execute("SELECT pg_sleep(6)")
                self.outcome = "finished"
            except psycopg.Error as exc:
                self.outcome = f"killed: {exc}"


def test_exhaustion_then_runbook_recovery_spares_active_sessions(kit: PgKit) -> None:
    clock = SystemClock()
    active = ActiveQuery(kit.primary.dsn())
    active.start()
    assert active.started_query.wait(10)
    fault = PoolExhaustion(
        PostgresSessionHolder(kit.primary.dsn(), application_name=leak_application_name()),
        kit.admin,
        kit.app,
        cap=LeakCap(fill_server=True),
    )
    started = clock.now()
    fault.apply()
    saturation_s = clock.now() - started
    try:
        assert fault.opened >= 10
        assert "reserved" in (fault.refusal or "") or "too many" in (fault.refusal or "")
        assert connections_refused(kit.app)().ok  # the user-side symptom
        assert sql_reachable(kit.admin)().ok  # reserved slots keep the operator in
        rule = IdleRule(older_than_s=600, scale=0.002)  # 10 min scaled to 1.2 s
        tag = fault.holder.application_name

        def leaked_idle_aged() -> bool:
            idle = [s for s in kit.admin.sessions() if s.application_name == tag]
            return all(s.state_age_s > rule.effective_s for s in idle if s.state == "idle")

        wait_until(leaked_idle_aged, clock=clock, timeout_s=10, poll_s=0.1)
        result = terminate_idle(kit.admin, rule, clock=clock)
        print(f"saturated in {saturation_s:.2f} s; {result.summary()}")  # noqa: T201
        assert "scaled x0.002" in result.rule
        assert result.terminated
        held_pids = {s.pid for s in kit.admin.sessions() if s.application_name == "drills-active"}
        assert held_pids, "the active session must survive the runbook's rule"
        assert not set(result.terminated) & held_pids
        wait_until(sql_reachable(kit.app), clock=clock, timeout_s=10, poll_s=0.1)
        assert connections_below(kit.admin, headroom=2)().ok
    finally:
        fault.rollback()
    active.join(timeout=15)
    assert active.outcome == "finished"
    leftovers = [
        s for s in kit.admin.sessions() if s.application_name == fault.holder.application_name
    ]
    assert leftovers == []


def test_rollback_replays_from_the_entry_after_the_leaker_crashed(kit: PgKit) -> None:
    """Sessions opened by another process that died: the entry alone finds and ends them."""
    tag = leak_application_name()
    fault = PoolExhaustion(
        PostgresSessionHolder(kit.primary.dsn(), application_name=tag), kit.admin, kit.app
    )
    entry = fault.rollback_entry()
    script = (
        "import psycopg, sys\n"
        "conns = [psycopg.connect(sys.argv[1], application_name=sys.argv[2]) for _ in range(5)]\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
    )
    leaker = subprocess.Popen(
        [sys.executable, "-c", script, kit.primary.dsn(), tag],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert leaker.stdout is not None
        assert leaker.stdout.readline().strip() == "ready"
        assert sum(1 for s in kit.admin.sessions() if s.application_name == tag) == 5
        registry = default_registry()  # what `drills rollback` uses: the entry alone suffices
        assert POOL_EXHAUSTION in registry.kinds()
        registry.run(entry)
        remaining = [s for s in kit.admin.sessions() if s.application_name == tag]
        assert remaining == []
    finally:
        leaker.kill()
        leaker.wait(timeout=10)


def _leak(kit: PgKit, cap: LeakCap) -> PoolExhaustion:
    holder = PostgresSessionHolder(kit.primary.dsn(), application_name=leak_application_name())
    return PoolExhaustion(holder, kit.admin, kit.app, cap=cap)


def test_the_leak_fills_only_the_roles_own_limit(kit: PgKit) -> None:
    role = kit.app.limits().role
    kit.admin.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT 6')
    fault = _leak(kit, LeakCap())  # no opt-in needed: only the shop's role is hurt
    try:
        fault.apply()
        assert fault.opened <= 6
        assert fault.scope == f"role {role} CONNECTION LIMIT 6"
        assert "too many connections for role" in (fault.refusal or "")
        assert kit.admin.limits().free_slots > 5  # other roles still have the server's slots
    finally:
        fault.rollback()
        kit.admin.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT -1')
    assert kit.app.limits().role_limit is None


def test_a_leak_capped_below_the_servers_slots_is_not_a_landed_fault(kit: PgKit) -> None:
    fault = _leak(kit, LeakCap(fill_server=True, max_sessions=3))
    try:
        with pytest.raises(InjectionFailed, match="more slots than the leak may take"):
            fault.apply()
        assert fault.opened == 3
    finally:
        fault.rollback()
