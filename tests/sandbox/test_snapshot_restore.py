"""Snapshot -> destroy -> restore into a new instance -> verify, on real PostgreSQL and moto S3."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from drills.core.clock import SystemClock
from drills.core.dataloss import verify_ledger
from drills.load.ledger import WriteLedger
from drills.recovery.restore_snapshot import restore_snapshot
from drills.sandbox.aws import DUMMY_CREDENTIALS
from drills.targets.adapters.aws import S3ObjectStore
from drills.targets.adapters.localdb import LocalSnapshotStore, ServiceData
from drills.targets.adapters.postgres import insert_order
from drills.targets.ports.data import SnapshotKind, verify_fingerprints
from tests.sandbox.pgkit import PgKit, local_postgres, moto_endpoint

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_endpoint() as url:
        yield url


@pytest.fixture(scope="module")
def kit() -> Iterator[PgKit]:
    with local_postgres() as started:
        yield started


@pytest.fixture
def store(kit: PgKit, endpoint: str) -> LocalSnapshotStore:
    objects = S3ObjectStore.connect("drills-backups", endpoint_url=endpoint, **DUMMY_CREDENTIALS)
    return LocalSnapshotStore(
        kit.primary, factory=kit.factory, work_dir=kit.root / "snapshots", objects=objects
    )


def _write(kit: PgKit, ledger: WriteLedger, prefix: str, count: int) -> None:
    clock = SystemClock()
    with psycopg.connect(kit.primary.dsn()) as conn:
        for index in range(count):
            key = f"{prefix}-{index}"
            _, digest = insert_order(conn, key, "gadget", index % 5 + 1)
            ledger.record(key, clock.now(), digest)


@pytest.mark.parametrize("kind", ["dump", "base"])
def test_snapshot_destroy_restore_verify(
    kit: PgKit, store: LocalSnapshotStore, kind: SnapshotKind
) -> None:
    kit.app.ensure_orders_table()
    kit.app.execute("TRUNCATE orders")
    kit.app.execute("CREATE TABLE IF NOT EXISTS customers (id int PRIMARY KEY, name text)")
    kit.app.execute(
        "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 300) g "
        "ON CONFLICT DO NOTHING"
    )
    ledger = WriteLedger(kit.root / f"ledger-{kind}.jsonl")
    _write(kit, ledger, kind, 400)
    info = store.take(kind)
    assert info.location.startswith("s3://drills-backups/")
    assert info.fingerprints["orders"].rows == 400
    kit.app.execute("DROP TABLE orders")  # the disaster
    kit.adopt(f"restored-{kind}")
    result = restore_snapshot(store, new_name=f"restored-{kind}", clock=SystemClock())
    print(result.summary())  # noqa: T201
    assert result.ok, result.verification.detail
    check = verify_ledger(ledger.writes(), result.database, fault_at_s=1e12, clock=SystemClock())
    assert check.report is not None
    assert check.report.lost == 0
    kit.app.ensure_orders_table()


def test_restore_from_older_snapshot_than_requested_fails(
    kit: PgKit, store: LocalSnapshotStore
) -> None:
    """Defect: the restore used an older snapshot; checksums and the ledger must both object."""
    kit.app.ensure_orders_table()
    ledger = WriteLedger(kit.root / "ledger-older.jsonl")
    _write(kit, ledger, "old", 50)
    older = store.take("dump")
    _write(kit, ledger, "new", 50)
    requested = store.take("dump")
    kit.adopt("restored-older")
    restored = store.restore(older.snapshot_id, new_name="restored-older")
    verification = verify_fingerprints(
        requested.fingerprints, restored.fingerprint(list(requested.fingerprints))
    )
    assert not verification.ok
    assert "orders" in verification.mismatched
    check = verify_ledger(ledger.writes(), restored, fault_at_s=1e12, clock=SystemClock())
    assert check.report is not None
    assert check.report.lost == 50


def test_writes_lost_after_acknowledgement_are_counted(kit: PgKit) -> None:
    """Defect: rows vanish behind the ledger's back; the comparison must name them."""
    kit.app.ensure_orders_table()
    ledger = WriteLedger(kit.root / "ledger-vanish.jsonl")
    _write(kit, ledger, "gone", 30)
    kit.app.execute("DELETE FROM orders WHERE order_key IN ('gone-3', 'gone-17')")
    kit.app.execute("UPDATE orders SET quantity = 99 WHERE order_key = 'gone-20'")
    kit.app.execute(  # a replayed write and a row nobody acknowledged
        "INSERT INTO orders (order_key, item, quantity, payload_hash) "
        "SELECT order_key, item, quantity, payload_hash FROM orders WHERE order_key = 'gone-5' "
        "UNION ALL SELECT 'phantom', 'gadget', 1, 'x'"
    )
    check = verify_ledger(ledger.writes(), kit.app, fault_at_s=1e12, clock=SystemClock())
    assert check.report is not None
    assert set(check.report.missing) == {"gone-3", "gone-17"}
    assert check.report.changed == ("gone-20",)
    assert check.report.lost == 3
    assert check.report.duplicates == ("gone-5",)
    assert "phantom" in check.report.unexpected


def test_ledger_comparison_that_cannot_run_is_could_not_verify(kit: PgKit) -> None:
    kit.app.execute("DROP TABLE IF EXISTS orders")
    check = verify_ledger([], kit.app, fault_at_s=0.0, clock=SystemClock())
    assert check.report is None
    assert "orders" in (check.error or "")
    kit.app.ensure_orders_table()


def test_a_service_database_of_its_own_is_dumped_and_restored_with_its_role(
    kit: PgKit, endpoint: str
) -> None:
    """A second service's own role and database (as notes has): the dump holds that database
    and no role, so the restore creates both, and the restored DSN is that role's."""
    kit.primary.ensure_service_database("svcrole", "svcdb", connection_limit=5)
    service = ServiceData("svcdb", "svcrole")
    owner = service.dsn(kit.primary)
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS items (item_id text PRIMARY KEY, body text)")
        conn.execute("INSERT INTO items SELECT 'i' || g, 'b' FROM generate_series(1, 40) g")
    objects = S3ObjectStore.connect("drills-backups", endpoint_url=endpoint, **DUMMY_CREDENTIALS)
    store = LocalSnapshotStore(
        kit.primary,
        factory=kit.factory,
        work_dir=kit.root / "service-snapshots",
        objects=objects,
        service=service,
    )
    info = store.take("dump")
    assert set(info.fingerprints) == {"items"}  # the service's database, not the shop's
    kit.adopt("restored-service")
    restored = store.restore(info.snapshot_id, new_name="restored-service")
    assert restored.dsn().startswith("postgresql://svcrole@")
    assert restored.dsn().endswith("/svcdb")
    assert store.verify(info.snapshot_id, restored).ok
    with psycopg.connect(restored.dsn(), autocommit=True) as conn:  # as its own role
        conn.execute("INSERT INTO items VALUES ('after', 'the restore')")
        row = conn.execute("SELECT count(*) FROM items").fetchone()
    assert row is not None
    assert row[0] == 41
