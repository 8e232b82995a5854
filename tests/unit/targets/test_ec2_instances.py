"""The EC2 instances behind nodes on moto (in process): stand-ins, describe, reboot, terminate."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from drills.targets.adapters.ec2_instances import Ec2Instances


@pytest.fixture
def instances() -> Iterator[Ec2Instances]:
    with mock_aws():
        ec2 = boto3.client(
            "ec2",
            region_name="ap-southeast-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        yield Ec2Instances(ec2)


def test_one_stand_in_per_node_without_one(instances: Ec2Instances) -> None:
    made = instances.stand_in(["node-1", "node-2"])
    assert [s.node for s in made] == ["node-1", "node-2"]
    assert instances.stand_in(["node-1", "node-2", "node-3"])[0].node == "node-3"
    listed = instances.describe()
    assert [s.node for s in listed] == ["node-1", "node-2", "node-3"]
    assert {s.state for s in listed} <= {"pending", "running"}


def test_reboot_keeps_the_state_and_terminated_ones_are_not_listed(
    instances: Ec2Instances,
) -> None:
    [one] = instances.stand_in(["node-1"])
    instances.reboot([one.instance_id])
    assert [s.instance_id for s in instances.describe()] == [one.instance_id]
    instances.terminate([one.instance_id])
    instances.terminate([])
    assert instances.describe() == []
