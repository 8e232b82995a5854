"""The sandbox's RDS model: moto's records backed by real local PostgreSQL (rds_backing).

A moto server started as the sandbox starts it (`drills.moto_rds`, backing root = the local
PostgreSQL root) and the RDS profile's adapters (rds_restore) over HTTP: the restored instance
stays `creating` for the modelled time, its Endpoint is a real local server holding the
snapshot's rows, PITR replays to the requested time, and the delete rollback removes both the
record and the server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drills.core.clock import SystemClock
from drills.core.errors import RecoveryStepMissing
from drills.sandbox.aws import DUMMY_CREDENTIALS, MotoServer
from drills.targets.adapters.aws import RdsAdapter
from drills.targets.adapters.postgres import PostgresDatabase
from drills.targets.adapters.rds_restore import (
    RdsInstanceRemoval,
    RdsPitr,
    RdsRestoreTarget,
    RdsSnapshots,
)
from drills.targets.ports.data import RecoveryRequest
from tests.sandbox.pgkit import PgKit, local_postgres

pytestmark = pytest.mark.sandbox

SOURCE = "shop-primary"


@pytest.fixture(scope="module")
def kit() -> Iterator[PgKit]:
    with local_postgres() as made:
        made.app.execute(
            "INSERT INTO orders (order_key, item, quantity, payload_hash) "
            "SELECT 'k' || g, 'widget', 1, 'x' FROM generate_series(1, 300) g"
        )
        yield made


@pytest.fixture(scope="module")
def rds(kit: PgKit) -> Iterator[RdsAdapter]:
    moto = MotoServer(backing_root=kit.root)
    try:
        endpoint = moto.start()
        adapter = RdsAdapter.connect(
            endpoint_url=endpoint, **DUMMY_CREDENTIALS, clock=SystemClock(), poll_s=0.2
        )
        adapter.client.create_db_instance(
            DBInstanceIdentifier=SOURCE,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="postgres",
            MasterUserPassword="sandbox-only",
            BackupRetentionPeriod=7,
            Tags=[{"Key": "drills:sandbox-backing", "Value": "source"}],
        )
        yield adapter
    finally:
        moto.stop()


def _target(rds: RdsAdapter, kit: PgKit, creating_s: float) -> RdsRestoreTarget:
    return RdsRestoreTarget(
        rds=rds,
        instance_id=SOURCE,
        dsn_template=kit.primary.dsn(),
        run="drills-restored-test",
        creating_s=creating_s,
    )


def test_snapshot_restore_waits_then_answers_at_its_endpoint(rds: RdsAdapter, kit: PgKit) -> None:
    target = _target(rds, kit, 2.0)
    store = RdsSnapshots(target)
    info = store.take()
    assert info.fingerprints["orders"].rows == 300
    kit.app.execute("DELETE FROM orders")
    kit.adopt("drills-restored-snap")
    restored = store.restore(store.list_snapshots()[-1], new_name="drills-restored-snap")
    wait = target.waits[-1]
    print(wait.describe(), wait.history)  # noqa: T201 - measured vs modelled
    assert wait.history[0] == "creating"
    assert wait.elapsed_s >= 2.0
    assert str(kit.primary.port) not in restored.dsn()
    assert store.verify(info.snapshot_id, restored).ok
    kit.factory.empty("drills-restored-snap").remove()  # as the drill's reinstate does first
    assert rds.client.describe_db_instances()["DBInstances"]  # the API still answers
    removal = RdsInstanceRemoval(rds=rds, instance_id="drills-restored-snap")
    removal.rollback()
    assert rds.instance("drills-restored-snap") is None
    assert kit.factory.empty("drills-restored-snap").status() == "absent"


def test_point_in_time_restore_replays_to_the_time(rds: RdsAdapter, kit: PgKit) -> None:
    kit.app.execute(
        "INSERT INTO orders (order_key, item, quantity, payload_hash) "
        "SELECT 'p' || g, 'widget', 1, 'x' FROM generate_series(1, 50) g"
    )
    admin = PostgresDatabase("admin", kit.primary.admin_dsn())
    point = admin.create_restore_point("before-damage")
    kit.app.execute("DELETE FROM orders WHERE order_key LIKE 'p%'")
    pitr = RdsPitr(_target(rds, kit, 0.5))
    pitr.remember_point(point.name, point.wall_iso)
    kit.adopt("drills-restored-pitr")
    outcome = pitr.recover(
        pitr.base_backup(), RecoveryRequest(name=point.name), new_name="drills-restored-pitr"
    )
    rows = outcome.database.fingerprint(["orders"])["orders"].rows
    assert rows >= 50, outcome.log_excerpt
    RdsInstanceRemoval(rds=rds, instance_id="drills-restored-pitr").rollback()
    assert rds.instance("drills-restored-pitr") is None


@pytest.mark.extended  # make test runs this defect end to end (test_rds_profile_defects)
def test_a_restore_that_never_becomes_available_times_out_naming_it(
    rds: RdsAdapter, kit: PgKit
) -> None:
    slow = RdsAdapter(client=rds.client, clock=SystemClock(), timeout_s=2.0, poll_s=0.2)
    target = _target(slow, kit, 600.0)
    store = RdsSnapshots(target)
    snapshot_id = store.take().snapshot_id
    kit.adopt("drills-restored-stuck")
    with pytest.raises(RecoveryStepMissing, match=r"drills-restored-stuck status creating"):
        store.restore(snapshot_id, new_name="drills-restored-stuck")
    RdsInstanceRemoval(rds=rds, instance_id="drills-restored-stuck").rollback()
    assert rds.instance("drills-restored-stuck") is None
