"""EC2 instances standing for the cluster's nodes (RUNBOOKS.md §3.13 steps 2-4), over boto3.

`aws ec2 describe-instances` and `reboot-instances` as the runbook runs them. An instance stands
for a node through its tag `drills-node=<node name>` (on a real cluster the node's providerID
names it; the drill reads the tag). On the sandbox the API is moto's: a reboot changes no state
and restarts nothing, and moto accepts any image id, so `stand_in` can create one instance per
sandbox node. Every figure taken from these calls is about the instance's recorded state only,
and the drill says so.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.exceptions

from drills.core.errors import DrillError
from drills.targets.adapters.aws import translate
from drills.targets.ports.nodes import InstanceState

__all__ = ["NODE_TAG", "Ec2Instances"]

NODE_TAG = "drills-node"
_LIVE = ["pending", "running", "stopping", "stopped", "shutting-down"]
_STAND_IN_TYPE = "t3.medium"


class Ec2Instances:
    """The Instances port on one EC2 region."""

    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2

    @classmethod
    def connect(
        cls,
        *,
        region: str,
        endpoint_url: str | None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> Ec2Instances:
        """A boto3 EC2 client for `region` (moto: its endpoint and dummy credentials)."""
        ec2: Any = boto3.client(
            "ec2",
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )
        return cls(ec2)

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.ec2, operation)(**kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise translate(exc, f"ec2 {operation}") from exc

    def describe(self) -> list[InstanceState]:
        """The instances tagged for a node and not terminated, by node name."""
        answer = self._call(
            "describe_instances",
            Filters=[
                {"Name": "tag-key", "Values": [NODE_TAG]},
                {"Name": "instance-state-name", "Values": _LIVE},
            ],
        )
        found = [
            InstanceState(str(i["InstanceId"]), _node_of(i), str(i["State"]["Name"]))
            for reservation in answer.get("Reservations", [])
            for i in reservation.get("Instances", [])
        ]
        return sorted(found, key=lambda s: (s.node, s.instance_id))

    def stand_in(self, nodes: list[str]) -> list[InstanceState]:
        """One instance for each node without one; returns those created."""
        have = {s.node for s in self.describe()}
        created = []
        for node in (n for n in nodes if n not in have):
            answer = self._call(
                "run_instances",
                ImageId=self._image(),
                InstanceType=_STAND_IN_TYPE,
                MinCount=1,
                MaxCount=1,
                TagSpecifications=[
                    {
                        "ResourceType": "instance",
                        "Tags": [{"Key": NODE_TAG, "Value": node}, {"Key": "Name", "Value": node}],
                    }
                ],
            )
            instance = answer["Instances"][0]
            created.append(InstanceState(str(instance["InstanceId"]), node, "pending"))
        return created

    def _image(self) -> str:
        images = self._call("describe_images", Owners=["amazon"]).get("Images", [])
        if not images:
            raise DrillError("no image to start a stand-in instance from (describe-images)")
        return str(images[0]["ImageId"])

    def reboot(self, instance_ids: list[str]) -> None:
        """`aws ec2 reboot-instances --instance-ids ...`."""
        self._call("reboot_instances", InstanceIds=list(instance_ids))

    def terminate(self, instance_ids: list[str]) -> None:
        """Terminate the instances (the stand-ins' clean-up); nothing to do for none."""
        if instance_ids:
            self._call("terminate_instances", InstanceIds=list(instance_ids))


def _node_of(instance: dict[str, Any]) -> str:
    tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags", [])}
    return str(tags.get(NODE_TAG, ""))
