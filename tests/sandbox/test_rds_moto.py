"""The RDS adapter against a moto server over HTTP (real boto3 calls, nothing patched)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drills.core.clock import SystemClock
from drills.recovery.restore_snapshot import restore_snapshot
from drills.sandbox.aws import DUMMY_CREDENTIALS
from drills.targets.adapters.aws import ModelledDurations, RdsAdapter
from drills.targets.adapters.localdb import LocalSnapshotStore
from drills.targets.adapters.sandbox_rds import RdsShadowedSnapshots
from tests.sandbox.pgkit import local_postgres, moto_endpoint

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_endpoint() as url:
        yield url


@pytest.fixture(scope="module")
def rds(endpoint: str) -> RdsAdapter:
    adapter = RdsAdapter.connect(
        endpoint_url=endpoint,
        **DUMMY_CREDENTIALS,
        clock=SystemClock(),
        poll_s=0.05,
        durations=ModelledDurations(restore_s=0.3),
    )
    adapter.client.create_db_instance(
        DBInstanceIdentifier="shop-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="shop",
        MasterUserPassword="not-a-secret-moto",
        AllocatedStorage=20,
        BackupRetentionPeriod=7,
    )
    return adapter


def test_snapshot_and_restore_to_new_instance(rds: RdsAdapter) -> None:
    created = rds.create_snapshot("shop-db", "shop-snap-1")
    assert created.status == "available"
    assert "shop-snap-1" in rds.list_snapshots("shop-db")
    restored = rds.restore_from_snapshot("shop-snap-1", "shop-db-restored")
    assert rds.instance_status("shop-db-restored") == "available"
    assert restored.modelled_s == 0.3
    assert restored.elapsed_s >= 0.3
    assert "MODELLED" in restored.describe()


def test_point_in_time_replica_promote_and_failover(rds: RdsAdapter) -> None:
    pitr = rds.restore_to_point_in_time("shop-db", "shop-db-pitr")
    assert pitr.status == "available"
    assert pitr.modelled_s == 0
    assert "MODELLED" not in pitr.describe()
    replica = rds.create_read_replica("shop-db", "shop-db-replica")
    assert replica.status == "available"
    assert rds.is_replica_of("shop-db-replica") == "shop-db"
    assert rds.promote_read_replica("shop-db-replica").status == "available"
    assert rds.reboot("shop-db", force_failover=False).status == "available"


def test_sandbox_rds_restore_new_instance_holds_the_data(rds: RdsAdapter) -> None:
    """RUNBOOKS §3.6 new-instance: the RDS API on moto, the data in a new local PostgreSQL."""
    with local_postgres() as kit:
        kit.app.execute(
            "INSERT INTO orders (order_key, item, quantity, payload_hash) "
            "SELECT 'k' || g, 'widget', 1, 'x' FROM generate_series(1, 200) g"
        )
        store = RdsShadowedSnapshots(
            rds,
            LocalSnapshotStore(kit.primary, factory=kit.factory, work_dir=kit.root / "snaps"),
            instance_id="shop-db",
        )
        info = store.take("dump")
        kit.app.execute("DELETE FROM orders")  # the disaster
        kit.adopt("shop-db-new")
        result = restore_snapshot(store, new_name="shop-db-new", clock=SystemClock())
        print(result.summary(), "|", store.waits[-1].describe())  # noqa: T201
        assert store.list_snapshots() == [info.snapshot_id]
        assert rds.instance_status("shop-db-new") == "available"
        assert "MODELLED" in store.waits[-1].describe()
        assert result.ok
        assert result.database.fingerprint(["orders"])["orders"].rows == 200
