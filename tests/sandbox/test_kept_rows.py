"""DROP TABLE with a kept copy, and the clean-up that puts the destroyed rows back (real PG).

The data drills destroy `orders` on purpose; the copy taken in the DROP's own transaction is
what lets the clean-up give the primary back the rows a snapshot restore cannot (those written
between the snapshot and the fault), without handing them to the drill's recovery.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from drills.core.clock import SystemClock
from drills.faults.data import DestructiveStatement, drop_table, mass_delete
from drills.targets.adapters.postgres import insert_order
from drills.targets.adapters.reinstate import ReinstatePlan, _put_back_kept, _refill_primary
from tests.sandbox.pgkit import PgKit, local_postgres


@pytest.fixture
def kit() -> Iterator[PgKit]:
    with local_postgres() as kit:
        yield kit


def _keys(kit: PgKit) -> set[str]:
    with psycopg.connect(kit.admin.dsn(), autocommit=True) as conn:
        return {str(r[0]) for r in conn.execute("SELECT order_key FROM orders").fetchall()}


def _plan(kit: PgKit, kept: Path) -> ReinstatePlan:
    return ReinstatePlan(
        postgres_root=str(kit.root),
        restored="restored",
        fallback_dump="",
        primary_url=kit.app.dsn(),
        kubeconfig="",
        context="",
        namespace="default",
        deployment="shop",
        kept_rows=str(kept),
    )


def test_the_dropped_rows_are_kept_and_put_back_once(kit: PgKit) -> None:
    keys = [uuid.uuid4().hex for _ in range(25)]
    with psycopg.connect(kit.app.dsn(), autocommit=True) as conn:
        for key in keys:
            insert_order(conn, key, "kept", 1)
    kept = kit.root / ".kept-orders-test.copy"
    fault = drop_table(kit.app, kit.admin, "orders", clock=SystemClock(), keep=kept)
    fault.apply()
    assert "orders" not in kit.app.tables()  # the damage is real
    assert kept.stat().st_size > 0
    kit.app.ensure_orders_table()  # what a restore gives back: the snapshot's rows, here 3
    with psycopg.connect(kit.app.dsn(), autocommit=True) as conn:
        for key in keys[:3]:
            insert_order(conn, key, "kept", 1)
        insert_order(conn, "written-after-the-restore", "new", 1)
    # 22 missing rows inserted; the 3 re-inserted by hand differ from the kept ones (their
    # created_at) and get the kept content back
    assert _put_back_kept(_plan(kit, kept), kit.primary) == 25
    assert _keys(kit) == {*keys, "written-after-the-restore"}
    assert not kept.exists()
    assert _put_back_kept(_plan(kit, kept), kit.primary) is None  # a replay does nothing
    assert len(_keys(kit)) == 26


def test_without_a_kept_copy_nothing_is_put_back(kit: PgKit) -> None:
    assert _put_back_kept(_plan(kit, kit.root / "absent.copy"), kit.primary) is None


def test_a_drop_that_never_committed_is_not_refilled_from_the_snapshot(kit: PgKit) -> None:
    """Killed after the rollback was recorded but before the DROP: the primary is whole."""
    dump = kit.root / "snapshot.pgc"
    kit.primary.run_tool("pg_dump", ["-Fc", "-f", str(dump), "-d", kit.primary.admin_dsn()])
    kit.primary.own(dump)
    with psycopg.connect(kit.app.dsn(), autocommit=True) as conn:
        insert_order(conn, "written-after-the-snapshot", "new", 1)
    plan = replace(_plan(kit, kit.root / ".kept-never.copy"), fallback_dump=str(dump))
    source = _refill_primary(plan, primary=kit.primary, restored=kit.primary, use_restored=False)
    assert source.startswith("nothing (the primary still has orders")
    assert "written-after-the-snapshot" in _keys(kit)


def _quantities(kit: PgKit) -> dict[str, int]:
    with psycopg.connect(kit.admin.dsn(), autocommit=True) as conn:
        rows = conn.execute("SELECT order_key, quantity FROM orders").fetchall()
    return {str(key): int(quantity) for key, quantity in rows}


def test_an_update_without_where_is_repaired_from_the_kept_copy(kit: PgKit) -> None:
    """The pitr practical's `bad-update`: the table stays, its content goes wrong."""
    with psycopg.connect(kit.app.dsn(), autocommit=True) as conn:
        for n in range(1, 11):
            insert_order(conn, f"order-{n}", "kept", n)
    before = _quantities(kit)
    kept = kit.root / ".kept-orders-update.copy"
    fault = DestructiveStatement(
        kit.app, kit.admin, "UPDATE orders SET quantity = 0", SystemClock(), "bad-update"
    )
    fault.keep = ("orders", kept)
    fault.apply()
    assert set(_quantities(kit).values()) == {0}  # the damage is real
    with psycopg.connect(kit.app.dsn(), autocommit=True) as conn:
        insert_order(conn, "written-after-the-fault", "new", 7)
    assert _refill_primary(
        _plan(kit, kept), primary=kit.primary, restored=kit.primary, use_restored=False
    ).startswith("nothing (the primary still has orders")
    assert _put_back_kept(_plan(kit, kept), kit.primary) == 10  # ten rows repaired
    assert _quantities(kit) == {**before, "written-after-the-fault": 7}


def test_a_mass_delete_is_put_back_from_the_kept_copy(kit: PgKit) -> None:
    """The snapshot practical's `delete-rows`: one row in three is left, the rest come back."""
    keys = [f"order-{n}" for n in range(12)]
    with psycopg.connect(kit.app.dsn(), autocommit=True) as conn:
        for key in keys:
            insert_order(conn, key, "kept", 1)
    kept = kit.root / ".kept-orders-delete.copy"
    fault = mass_delete(kit.app, kit.admin, "orders", clock=SystemClock(), keep_every=3, keep=kept)
    fault.apply()
    assert len(_keys(kit)) == 4
    assert _put_back_kept(_plan(kit, kept), kit.primary) == 8
    assert _keys(kit) == set(keys)
