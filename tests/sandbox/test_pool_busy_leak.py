"""The pool drill's defect leaker on a real PostgreSQL: busy sessions never match the idle rule."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from drills.faults.pool import leak_application_name
from drills.recovery.terminate_idle import IdleRule, select_idle, terminate_idle
from drills.targets.adapters.postgres import PostgresSessionHolder
from fixtures.pool import BusySessionHolder, pool_drained
from tests.sandbox.pgkit import PgKit, local_postgres

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def kit() -> Iterator[PgKit]:
    with local_postgres(max_connections=20) as started:
        yield started


def test_a_busy_leak_outlives_the_rule_while_an_idle_one_is_terminated(kit: PgKit) -> None:
    clock = SystemClock()
    rule = IdleRule(older_than_s=600, scale=0.002)  # 10 min scaled to 1.2 s
    busy = BusySessionHolder(
        kit.primary.dsn(),
        application_name=leak_application_name(),
        touch_every_s=rule.effective_s / 4,
    )
    idle = PostgresSessionHolder(kit.primary.dsn(), application_name=leak_application_name())
    try:
        assert idle.hold(2, idle_in_transaction_every=0) == 2
        assert busy.hold(40) > 0  # until the server refuses: every ordinary slot is taken
        assert busy.refusal is not None
        drained = pool_drained(kit.app, kit.admin, headroom=1)
        assert drained().detail.startswith("the pool never drained")

        def idle_leak_aged() -> bool:
            mine = [s for s in kit.admin.sessions() if s.application_name == idle.application_name]
            return len(select_idle(mine, rule)) == 2

        wait_until(idle_leak_aged, clock=clock, timeout_s=15, poll_s=0.1)
        result = terminate_idle(kit.admin, rule, clock=clock)
        assert result.terminated_by == {f"{idle.application_name} (idle)": 2}
        assert not any(busy.application_name in key for key in result.terminated_by)
        left = [s for s in kit.admin.sessions() if s.application_name == busy.application_name]
        assert len(left) == busy.held()
    finally:
        busy.release()
        idle.release()
    wait_until(pool_drained(kit.app, kit.admin, headroom=5), clock=clock, timeout_s=10, poll_s=0.1)
