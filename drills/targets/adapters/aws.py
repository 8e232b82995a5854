"""boto3 adapters: S3 as the ObjectStore port, RDS snapshots / PITR / replicas with waits.

The sandbox points them at a moto server (`endpoint_url`); a profile points them at real AWS.
moto finishes every RDS operation at once, so `RdsAdapter` can model a realistic duration for each
status transition (`ModelledDurations`); a report must label such figures as modelled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

from drills.core.clock import DrillClock, SystemClock
from drills.core.conditions import Observation
from drills.core.errors import DrillError, SafetyViolation, TransientError
from drills.core.waiting import Waited, wait_until

__all__ = [
    "ModelledDurations",
    "RdsAdapter",
    "RdsWait",
    "S3ObjectStore",
    "translate",
]

_TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InvalidDBInstanceState",
    "InvalidDBSnapshotState",
}


def translate(exc: Exception, doing: str) -> DrillError:
    """Map botocore errors to the harness's: throttling, 5xx and bad states are transient."""
    if isinstance(exc, botocore.exceptions.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        message = f"{doing}: {code} {exc.response.get('Error', {}).get('Message', '')}".strip()
        if code in {"AccessDenied", "UnauthorizedOperation", "AccessDeniedException"}:
            return SafetyViolation(f"{message}; check the profile's AWS account and role")
        if code in _TRANSIENT_CODES or status >= 500 or status == 429:
            return TransientError(message, delay_s=2.0)
        return DrillError(message)
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return TransientError(f"{doing}: endpoint unreachable ({exc}); is the moto server up?")
    return DrillError(f"{doing}: {exc}")


def _tag_list(tags: Mapping[str, str] | None) -> dict[str, Any]:
    """`Tags=[{Key, Value}]` for a call, or nothing."""
    return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}


class S3ObjectStore:
    """The ObjectStore port on one S3 bucket (created on first use)."""

    def __init__(self, bucket: str, *, client: Any) -> None:
        self.bucket = bucket
        self.client = client
        self._ready = False

    @classmethod
    def connect(
        cls, bucket: str, *, endpoint_url: str | None = None, **credentials: Any
    ) -> S3ObjectStore:
        """Build the boto3 client (moto: pass endpoint_url and dummy credentials)."""
        client: Any = boto3.client("s3", endpoint_url=endpoint_url, **credentials)
        return cls(bucket, client=client)

    def _ensure_bucket(self) -> None:
        if self._ready:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except botocore.exceptions.ClientError:
            try:
                self.client.create_bucket(Bucket=self.bucket)
            except botocore.exceptions.ClientError as exc:
                raise translate(exc, f"create bucket {self.bucket}") from exc
        self._ready = True

    def put_file(self, key: str, path: Path) -> str:
        """Upload one file; return s3://bucket/key."""
        self._ensure_bucket()
        try:
            self.client.upload_file(str(path), self.bucket, key)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise translate(exc, f"upload {key}") from exc
        return f"s3://{self.bucket}/{key}"

    def get_file(self, key: str, path: Path) -> Path:
        """Download one object to `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.download_file(self.bucket, key, str(path))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise translate(exc, f"download {key}") from exc
        return path

    def keys(self, prefix: str = "") -> list[str]:
        """Keys under `prefix`, sorted (paginated)."""
        self._ensure_bucket()
        found: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend(str(item["Key"]) for item in page.get("Contents", []))
        return sorted(found)


@dataclass(frozen=True)
class ModelledDurations:
    """Seconds each RDS operation is made to take when the backend (moto) finishes at once.

    Zero everywhere means "trust the API's own status transitions" (real AWS).
    """

    restore_s: float = 0.0
    pitr_s: float = 0.0
    snapshot_s: float = 0.0
    replica_s: float = 0.0
    promote_s: float = 0.0
    reboot_s: float = 0.0

    @property
    def modelled(self) -> bool:
        """True when any duration is modelled (reports must say so)."""
        return any(value > 0 for value in vars(self).values())


@dataclass(frozen=True)
class RdsWait:
    """A finished wait for an RDS status, with whether its duration was modelled."""

    resource: str
    status: str
    elapsed_s: float
    polls: int
    modelled_s: float = 0.0
    history: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """One line for the report; modelled durations are labelled as such."""
        label = f" (includes {self.modelled_s:g} s MODELLED delay)" if self.modelled_s else ""
        return f"{self.resource} reached '{self.status}' after {self.elapsed_s:.1f} s{label}"


class RdsAdapter:
    """RDS operations the runbooks use, each followed by a wait on the real status field."""

    def __init__(
        self,
        *,
        client: Any,
        clock: DrillClock | None = None,
        durations: ModelledDurations | None = None,
        timeout_s: float = 3600.0,
        poll_s: float = 5.0,
    ) -> None:
        self.client = client
        self.clock = clock or SystemClock()
        self.durations = durations or ModelledDurations()
        self.timeout_s = timeout_s
        self.poll_s = poll_s

    @classmethod
    def connect(cls, *, endpoint_url: str | None = None, **options: Any) -> RdsAdapter:
        """Build the boto3 client; extra options (clock, durations, ...) go to the adapter."""
        credentials = {
            k: options.pop(k)
            for k in ("aws_access_key_id", "aws_secret_access_key", "region_name")
            if k in options
        }
        client: Any = boto3.client("rds", endpoint_url=endpoint_url, **credentials)
        return cls(client=client, **options)

    # -- calls -----------------------------------------------------------------------------------
    def _call(self, operation: str, **kwargs: Any) -> Mapping[str, Any]:
        try:
            result: Mapping[str, Any] = getattr(self.client, operation)(**kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise translate(exc, f"rds {operation}") from exc
        return result

    def instance_status(self, instance_id: str) -> str:
        """DBInstanceStatus of one instance."""
        answer = self._call("describe_db_instances", DBInstanceIdentifier=instance_id)
        return str(answer["DBInstances"][0]["DBInstanceStatus"])

    def snapshot_status(self, snapshot_id: str) -> str:
        """Status of one manual snapshot."""
        answer = self._call("describe_db_snapshots", DBSnapshotIdentifier=snapshot_id)
        return str(answer["DBSnapshots"][0]["Status"])

    def list_snapshots(self, instance_id: str | None = None) -> list[str]:
        """Snapshot ids, oldest first."""
        kwargs = {"DBInstanceIdentifier": instance_id} if instance_id else {}
        answer = self._call("describe_db_snapshots", **kwargs)
        snaps = sorted(answer["DBSnapshots"], key=lambda s: str(s.get("SnapshotCreateTime", "")))
        return [str(s["DBSnapshotIdentifier"]) for s in snaps]

    def create_snapshot(
        self, instance_id: str, snapshot_id: str, *, tags: Mapping[str, str] | None = None
    ) -> RdsWait:
        """Create a manual snapshot and wait until it is available."""
        self._call(
            "create_db_snapshot",
            DBInstanceIdentifier=instance_id,
            DBSnapshotIdentifier=snapshot_id,
            **_tag_list(tags),
        )
        return self._wait(
            snapshot_id, lambda: self.snapshot_status(snapshot_id), self.durations.snapshot_s
        )

    def restore_from_snapshot(
        self,
        snapshot_id: str,
        new_instance_id: str,
        *,
        instance_class: str = "db.t3.micro",
        tags: Mapping[str, str] | None = None,
    ) -> RdsWait:
        """restore-db-instance-from-db-snapshot, then wait for `available`."""
        self._call(
            "restore_db_instance_from_db_snapshot",
            DBInstanceIdentifier=new_instance_id,
            DBSnapshotIdentifier=snapshot_id,
            DBInstanceClass=instance_class,
            **_tag_list(tags),
        )
        return self._wait_instance(new_instance_id, self.durations.restore_s)

    def restore_to_point_in_time(
        self,
        source_id: str,
        new_instance_id: str,
        *,
        restore_time_iso: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> RdsWait:
        """restore-db-instance-to-point-in-time (latest restorable time when no time given)."""
        kwargs: dict[str, Any] = {
            "SourceDBInstanceIdentifier": source_id,
            "TargetDBInstanceIdentifier": new_instance_id,
            **_tag_list(tags),
        }
        if restore_time_iso is None:
            kwargs["UseLatestRestorableTime"] = True
        else:
            kwargs["RestoreTime"] = restore_time_iso
        self._call("restore_db_instance_to_point_in_time", **kwargs)
        return self._wait_instance(new_instance_id, self.durations.pitr_s)

    def create_read_replica(self, source_id: str, replica_id: str) -> RdsWait:
        """create-db-instance-read-replica, then wait for `available`."""
        self._call(
            "create_db_instance_read_replica",
            DBInstanceIdentifier=replica_id,
            SourceDBInstanceIdentifier=source_id,
        )
        return self._wait_instance(replica_id, self.durations.replica_s)

    def promote_read_replica(self, replica_id: str) -> RdsWait:
        """promote-read-replica (RUNBOOKS §3.7 step 3), then wait for `available`."""
        self._call("promote_read_replica", DBInstanceIdentifier=replica_id)
        return self._wait_instance(replica_id, self.durations.promote_s)

    def reboot(self, instance_id: str, *, force_failover: bool = False) -> RdsWait:
        """reboot-db-instance (with failover for Multi-AZ), then wait for `available`."""
        kwargs: dict[str, Any] = {"DBInstanceIdentifier": instance_id}
        if force_failover:
            kwargs["ForceFailover"] = True
        self._call("reboot_db_instance", **kwargs)
        return self._wait_instance(instance_id, self.durations.reboot_s)

    def instance(self, instance_id: str) -> Mapping[str, Any] | None:
        """describe-db-instances of one instance; None when RDS does not know it."""
        try:
            answer = self.client.describe_db_instances(DBInstanceIdentifier=instance_id)
        except botocore.exceptions.ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) == "DBInstanceNotFound":
                return None
            raise translate(exc, "rds describe_db_instances") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise translate(exc, "rds describe_db_instances") from exc
        found: Mapping[str, Any] = answer["DBInstances"][0]
        return found

    def endpoint(self, instance_id: str) -> tuple[str, int]:
        """The Endpoint (address, port) the RDS API gives for an instance."""
        found = self.instance(instance_id)
        where = (found or {}).get("Endpoint") or {}
        if not where.get("Address") or not where.get("Port"):
            raise DrillError(f"RDS gives no Endpoint for {instance_id}: {found}")
        return str(where["Address"]), int(where["Port"])

    def snapshot(self, snapshot_id: str) -> Mapping[str, Any]:
        """describe-db-snapshots of one snapshot (its TagList included)."""
        answer = self._call("describe_db_snapshots", DBSnapshotIdentifier=snapshot_id)
        found: Mapping[str, Any] = answer["DBSnapshots"][0]
        return found

    def delete_instance(self, instance_id: str) -> bool:
        """delete-db-instance --skip-final-snapshot; False when there was none."""
        if self.instance(instance_id) is None:
            return False
        self._call("delete_db_instance", DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
        return True

    def delete_snapshot(self, snapshot_id: str) -> None:
        """delete-db-snapshot."""
        self._call("delete_db_snapshot", DBSnapshotIdentifier=snapshot_id)

    def is_replica_of(self, replica_id: str) -> str | None:
        """The source of a read replica, None once promoted."""
        answer = self._call("describe_db_instances", DBInstanceIdentifier=replica_id)
        source = answer["DBInstances"][0].get("ReadReplicaSourceDBInstanceIdentifier")
        return None if source is None else str(source)

    # -- waiting ---------------------------------------------------------------------------------
    def _wait_instance(self, instance_id: str, modelled_s: float) -> RdsWait:
        return self._wait(instance_id, lambda: self.instance_status(instance_id), modelled_s)

    def _wait(self, resource: str, status: Callable[[], str], modelled_s: float) -> RdsWait:
        """Wait for `available`; with a modelled duration, also until it has elapsed."""
        started = self.clock.now()
        history: list[str] = []

        def check() -> Observation:
            current = status()
            if not history or history[-1] != current:
                history.append(current)
            waited_s = self.clock.now() - started
            done = current == "available" and waited_s >= modelled_s
            shown = current if current != "available" or done else "available (modelled: pending)"
            return Observation(ok=done, detail=f"{resource} status {shown} after {waited_s:.1f} s")

        waited: Waited = wait_until(
            check,
            clock=self.clock,
            timeout_s=max(self.timeout_s, modelled_s + self.poll_s),
            poll_s=min(self.poll_s, modelled_s) if modelled_s > 0 else self.poll_s,
            description=f"{resource} becomes available",
        )
        return RdsWait(
            resource=resource,
            status="available",
            elapsed_s=float(waited.elapsed_s or 0.0),
            polls=waited.polls,
            modelled_s=modelled_s,
            history=tuple(history),
        )
