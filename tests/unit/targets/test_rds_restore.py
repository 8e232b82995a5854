"""The RDS profile's restores without a network: the waiter's FAIL, the Endpoint DSN, the rollback.

A scripted RDS client stands in for boto3's: a restore that stays `creating` past the waiter
ends the recovery step naming the instance and its status; the rollback entry of the instance
(kind `rds-delete-instance`) round-trips through the registry, deletes the drill's snapshots
and the instance with --skip-final-snapshot, and refuses to call it done while RDS lists it.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest
from moto import mock_aws

from drills.cli.rds_rollbacks import register_rds_rollbacks
from drills.core.clock import FakeClock
from drills.core.errors import RecoveryStepMissing, WaitTimeout
from drills.core.safety import Replayed, RollbackRegistry
from drills.targets.adapters.aws import RdsAdapter
from drills.targets.adapters.rds_restore import (
    RDS_DELETE_KIND,
    RdsInstanceRemoval,
    RdsRestoreTarget,
    RdsSnapshots,
    endpoint_dsn,
)


def _missing(operation: str) -> botocore.exceptions.ClientError:
    error = {"Error": {"Code": "DBInstanceNotFound", "Message": "not found"}}
    return botocore.exceptions.ClientError(error, operation)  # type: ignore[arg-type]


class FakeRds:
    """Instances by id with a status; deletes take `linger` describes to disappear."""

    def __init__(self, *, status: str = "creating", linger: int = 1) -> None:
        self.instances: dict[str, str] = {}
        self.snapshots = ["drills-restored-x-1", "other-snap"]
        self.status, self.linger = status, linger
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def restore_db_instance_from_db_snapshot(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("restore", kwargs))
        self.instances[kwargs["DBInstanceIdentifier"]] = self.status
        return {}

    def describe_db_instances(self, **kwargs: Any) -> dict[str, Any]:
        name = kwargs["DBInstanceIdentifier"]
        if name not in self.instances:
            raise _missing("DescribeDBInstances")
        status = self.instances[name]
        if status == "deleting":
            self.linger -= 1
            if self.linger < 0:
                del self.instances[name]
        return {"DBInstances": [{"DBInstanceStatus": status}]}

    def delete_db_instance(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("delete", kwargs))
        self.instances[kwargs["DBInstanceIdentifier"]] = "deleting"
        return {}

    def describe_db_snapshots(self, **kwargs: Any) -> dict[str, Any]:
        found = [{"DBSnapshotIdentifier": s, "SnapshotCreateTime": s} for s in self.snapshots]
        return {"DBSnapshots": found}

    def delete_db_snapshot(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("delete-snapshot", kwargs))
        self.snapshots.remove(kwargs["DBSnapshotIdentifier"])
        return {}


def _rds(client: FakeRds, clock: FakeClock) -> RdsAdapter:
    return RdsAdapter(client=client, clock=clock, timeout_s=30.0, poll_s=1.0)


def test_a_restore_never_available_fails_the_step_naming_instance_and_status() -> None:
    clock = FakeClock()
    client = FakeRds(status="creating")
    target = RdsRestoreTarget(
        rds=_rds(client, clock), instance_id="shop-db", dsn_template="postgresql://u@h/db", run="r"
    )
    with pytest.raises(RecoveryStepMissing) as caught:
        RdsSnapshots(target, clock=clock).restore("snap", new_name="drills-restored-x")
    text = str(caught.value)
    assert "restore-db-instance-from-db-snapshot: drills-restored-x never became available" in text
    assert "within the waiter's 30 s" in text
    assert "drills-restored-x status creating" in text
    assert client.calls[0][1]["Tags"] == [{"Key": "drills:run", "Value": "r"}]


def test_the_restored_users_dsn_takes_the_endpoints_host_and_port() -> None:
    dsn = endpoint_dsn(
        "postgresql://app:secret@old-host:5432/shop?sslmode=require", "10.0.0.9", 6543
    )
    assert dsn == "postgresql://app:secret@10.0.0.9:6543/shop?sslmode=require"
    assert endpoint_dsn("postgresql://old/shop", "h", 1) == "postgresql://h:1/shop"


def test_the_rollback_deletes_the_runs_snapshots_then_the_instance_and_waits_it_out() -> None:
    clock = FakeClock()
    client = FakeRds(status="available", linger=3)
    client.instances["drills-restored-x"] = "available"
    removal = RdsInstanceRemoval(
        rds=_rds(client, clock),
        instance_id="drills-restored-x",
        snapshot_prefix="drills-restored-x-",
        region="eu-west-1",
        clock=clock,
    )
    entry = removal.rollback_entry()
    assert entry.kind == RDS_DELETE_KIND
    assert entry.args["instance_id"] == "drills-restored-x"
    removal.rollback()
    assert client.snapshots == ["other-snap"]
    assert ("delete", {"DBInstanceIdentifier": "drills-restored-x", "SkipFinalSnapshot": True}) in (
        client.calls
    )
    assert "drills-restored-x" not in client.instances


def test_an_instance_that_stays_listed_is_a_failed_rollback() -> None:
    clock = FakeClock()
    client = FakeRds(linger=10_000)
    client.instances["drills-restored-x"] = "available"
    removal = RdsInstanceRemoval(
        rds=_rds(client, clock), instance_id="drills-restored-x", clock=clock
    )
    with pytest.raises(WaitTimeout, match="drills-restored-x status deleting"):
        removal.rollback()


def test_drills_rollback_knows_the_kind() -> None:
    registry = RollbackRegistry()
    register_rds_rollbacks(registry)
    assert RDS_DELETE_KIND in registry.kinds()


def test_drills_rollback_replays_the_entry_a_crashed_drill_left() -> None:
    """The entry alone (no drill process) deletes the run's snapshots and the instance once."""
    with mock_aws():
        client = RdsAdapter.connect(region_name="eu-west-1").client
        client.create_db_instance(
            DBInstanceIdentifier="drills-restored-pitr-abc123",
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="postgres",
            MasterUserPassword="not-a-secret-moto",
        )
        client.create_db_snapshot(
            DBInstanceIdentifier="drills-restored-pitr-abc123",
            DBSnapshotIdentifier="drills-restored-pitr-abc123-snap",
        )
        entry = RdsInstanceRemoval(
            rds=RdsAdapter(client=client),
            instance_id="drills-restored-pitr-abc123",
            snapshot_prefix="drills-restored-pitr-abc123-",
            region="eu-west-1",
        ).rollback_entry()
        registry = RollbackRegistry()
        register_rds_rollbacks(registry)
        assert registry.run(entry) is Replayed.RESTORED
        assert client.describe_db_instances()["DBInstances"] == []
        assert client.describe_db_snapshots()["DBSnapshots"] == []
        assert registry.run(entry) is Replayed.ALREADY
