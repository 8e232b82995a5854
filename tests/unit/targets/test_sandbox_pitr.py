"""The moto half of the pitr practical: the source record, a trainee's restore, its tags."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from drills.targets.adapters.sandbox_pitr import RestoreRequest, SandboxRds, restore_requests


@pytest.fixture
def rds() -> object:
    with mock_aws():
        yield SandboxRds(boto3.client("rds", region_name="us-east-1"))


def test_a_restore_of_the_registered_source_shows_its_tags(rds: SandboxRds) -> None:
    assert rds.register("shop-db", port=5433, db_name="shop")
    assert not rds.register("shop-db", port=5433, db_name="shop")  # idempotent
    rds.client.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier="shop-db",
        TargetDBInstanceIdentifier="shop-db-restored",
        RestoreTime="2026-12-04T21:50:00Z",
    )
    assert set(rds.instances()) == {"shop-db", "shop-db-restored"}
    rds.tag("shop-db-restored", {"drills:psql": "postgresql://t@127.0.0.1:6000/shop"})
    shown = rds.client.describe_db_instances(DBInstanceIdentifier="shop-db-restored")
    tags = {t["Key"]: t["Value"] for t in shown["DBInstances"][0]["TagList"]}
    assert tags["drills:psql"] == "postgresql://t@127.0.0.1:6000/shop"
    assert rds.delete("shop-db-restored")
    assert not rds.delete("shop-db-restored")
    assert set(rds.instances()) == {"shop-db"}


def test_restore_requests_read_the_time_or_the_latest() -> None:
    bodies = [
        {"Action": "DescribeDBInstances"},
        {
            "Action": "RestoreDBInstanceToPointInTime",
            "SourceDBInstanceIdentifier": "shop-db",
            "TargetDBInstanceIdentifier": "a",
            "RestoreTime": "2026-12-04T21:50:00Z",
        },
        {
            "Action": "RestoreDBInstanceToPointInTime",
            "SourceDBInstanceIdentifier": "shop-db",
            "TargetDBInstanceIdentifier": "b",
            "UseLatestRestorableTime": "true",
        },
    ]
    assert restore_requests(bodies) == [
        RestoreRequest("shop-db", "a", "2026-12-04T21:50:00Z"),
        RestoreRequest("shop-db", "b", None),
    ]
