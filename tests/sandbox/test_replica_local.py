"""`replica-promote`'s pieces on real local PostgreSQL: slot, delayed replica, kill, clean-up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drills.cli.replica_rollbacks import primary_of, remove_standby
from drills.core.clock import SystemClock
from drills.core.safety import JsonScalar
from drills.core.waiting import wait_until
from drills.recovery.pitr import promote_replica
from drills.targets.adapters.postgres import PostgresDatabase
from drills.targets.adapters.replication import (
    create_physical_slot,
    delay_replay,
    replication_slots,
    slot_is_active,
)
from tests.sandbox.pgkit import PgKit, local_postgres

pytestmark = pytest.mark.sandbox

INSERT = (
    "INSERT INTO orders (order_key, item, quantity, payload_hash) VALUES ('{key}', 'w', 1, 'x')"
)


@pytest.fixture
def kit() -> Iterator[PgKit]:
    with local_postgres() as started:
        yield started


def test_a_delayed_replica_lags_really_and_the_clean_up_leaves_nothing(kit: PgKit) -> None:
    clock = SystemClock()
    args: dict[str, JsonScalar] = {
        "postgres_root": str(kit.root),
        "primary": "primary",
        "max_connections": 30,
        "replica": "replica-delayed",
        "slot": "drills_replica_t1",
    }
    create_physical_slot(kit.primary.admin_dsn(), "drills_replica_t1")
    kit.app.execute(INSERT.format(key="early-1"))  # a commit in the base backup's WAL
    replica = kit.primary.create_replica("replica-delayed", slot="drills_replica_t1")
    kit.extra.append(replica)
    wait_until(
        lambda: slot_is_active(kit.primary.admin_dsn(), "drills_replica_t1"),
        clock=clock,
        timeout_s=30,
        poll_s=0.1,
    )
    delay_replay(replica.admin_dsn(), 600_000)  # set once streaming (module doc of fixtures)
    kit.app.execute(INSERT.format(key="late-0"))  # the first commit after: it waits 10 min
    kit.app.execute(INSERT.format(key="late-1"))
    standby = PostgresDatabase("replica", replica.admin_dsn())
    wait_until(  # streamed, and the slot moved past it: received but not replayed
        lambda: replication_slots(kit.primary.admin_dsn())[0].retained_bytes == 0,
        clock=clock,
        timeout_s=30,
        poll_s=0.1,
    )
    assert "late-1" not in standby.orders_present()  # ten minutes from being applied
    port = kit.primary.port
    kit.primary.stop("immediate")
    promotion = promote_replica(standby, clock=clock)
    assert promotion.timeline_after == promotion.timeline_before + 1
    assert promotion.lag_s is None or promotion.lag_s >= 0
    # PostgreSQL cancels the delay on promotion: what was received is applied, not lost
    assert "late-1" in PostgresDatabase("replica", replica.dsn()).orders_present()

    primary = primary_of(args)
    primary.start()
    assert primary.port == port  # the shop's URL still names it
    assert remove_standby(args, clock=clock) is True
    assert replica.status() == "absent"
    assert replication_slots(kit.primary.admin_dsn()) == []
    assert remove_standby(args, clock=clock) is False  # replayed: nothing left to do
