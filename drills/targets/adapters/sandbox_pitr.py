"""RDS point-in-time restores on the sandbox's moto, as a trainee asks for them (RUNBOOKS §3.7).

The `pitr` practical lets a trainee call `aws rds restore-db-instance-to-point-in-time` against
moto. moto only records the new instance; the bytes come from the sandbox's base backup and WAL
archive, replayed by the proctor into a local PostgreSQL. This module is the moto half:

- `SandboxRds`: register the primary as an RDS instance (so the call has a source), list the
  instances a trainee created, publish how to reach the local instance behind one (tags, since
  moto's Endpoint address is a fixed fake host), delete them.
- `MotoRecorder`: moto's request recording (`/moto-api/recorder/...`), switched on for the
  practical's window; `restore_requests()` reads the trainee's RestoreDBInstanceToPointInTime
  calls from it, with their RestoreTime, because describe-db-instances does not show it.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions

from drills.core.errors import DrillError
from drills.targets.adapters.aws import translate

__all__ = ["MotoRecorder", "RestoreRequest", "SandboxRds", "restore_requests"]

RESTORE_ACTION = "RestoreDBInstanceToPointInTime"


@dataclass(frozen=True)
class RestoreRequest:
    """One restore-db-instance-to-point-in-time: target id and time (None: latest)."""

    source_id: str
    target_id: str
    restore_time_iso: str | None


def restore_requests(bodies: list[dict[str, str]]) -> list[RestoreRequest]:
    """The restore requests among query-API request bodies (already decoded to fields)."""
    found = []
    for body in bodies:
        if body.get("Action") != RESTORE_ACTION or "TargetDBInstanceIdentifier" not in body:
            continue
        latest = body.get("UseLatestRestorableTime", "").lower() == "true"
        found.append(
            RestoreRequest(
                source_id=body.get("SourceDBInstanceIdentifier", ""),
                target_id=body["TargetDBInstanceIdentifier"],
                restore_time_iso=None if latest else body.get("RestoreTime") or None,
            )
        )
    return found


class SandboxRds:
    """The RDS calls the proctor makes on moto (its own access key, not the trainee's)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    def connect(cls, endpoint_url: str, *, access_key: str, region: str) -> SandboxRds:
        """A boto3 RDS client on moto signing with `access_key` (moto accepts any)."""
        client = boto3.client(
            "rds",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=access_key,
            region_name=region,
        )
        return cls(client)

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self.client, operation)(**kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise translate(exc, f"rds {operation}") from exc
        return answer

    def instances(self) -> dict[str, dict[str, Any]]:
        """Every DB instance moto knows, by identifier."""
        answer = self._call("describe_db_instances")
        return {str(i["DBInstanceIdentifier"]): i for i in answer["DBInstances"]}

    def register(self, instance_id: str, *, port: int, db_name: str) -> bool:
        """Create the RDS record of the sandbox's primary; False when it already exists."""
        if instance_id in self.instances():
            return False
        self._call(
            "create_db_instance",
            DBInstanceIdentifier=instance_id,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            AllocatedStorage=20,
            DBName=db_name,
            MasterUsername="postgres",
            MasterUserPassword="sandbox-only",
            Port=port,
            BackupRetentionPeriod=7,
        )
        return True

    def tag(self, instance_id: str, tags: dict[str, str]) -> None:
        """Add tags to an instance (how the proctor says where the local instance listens)."""
        arn = self.instances()[instance_id]["DBInstanceArn"]
        self._call(
            "add_tags_to_resource",
            ResourceName=arn,
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )

    def delete(self, instance_id: str) -> bool:
        """Delete an instance record (no final snapshot); False when it was not there."""
        if instance_id not in self.instances():
            return False
        self._call("delete_db_instance", DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
        return True


class MotoRecorder:
    """moto's request recording over its own API; never erased here (it is the AWS evidence).

    `drills certify start` records for the practical's window; the proctor makes sure it is on
    and reads what was recorded (JSON lines of method, url, headers, body) to learn a restore's
    RestoreTime.
    """

    def __init__(self, endpoint_url: str, *, timeout_s: float = 10.0) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.timeout_s = timeout_s

    def _post(self, what: str) -> None:
        url = f"{self.endpoint_url}/moto-api/recorder/{what}"
        request = urllib.request.Request(url, method="POST", data=b"")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                answer.read()
        except (urllib.error.URLError, OSError) as exc:
            raise DrillError(f"moto recorder {what} at {self.endpoint_url}: {exc}") from exc

    def start(self) -> None:
        """Record every request from now on (what was recorded before is kept)."""
        self._post("start-recording")

    def stop(self) -> None:
        """Stop recording (the file stays: the grade reads it)."""
        self._post("stop-recording")

    def download(self) -> str:
        """What was recorded so far (JSON lines); "" when moto has recorded nothing yet."""
        url = f"{self.endpoint_url}/moto-api/recorder/download-recording"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as answer:
                return str(answer.read().decode("utf-8", errors="replace"))
        except urllib.error.HTTPError:
            return ""  # no recording file yet: moto answers 500
        except (urllib.error.URLError, OSError) as exc:
            raise DrillError(f"moto recorder at {self.endpoint_url}: {exc}") from exc
