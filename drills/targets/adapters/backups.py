"""The backup chain of RUNBOOKS.md §3.8 on Kubernetes, S3 and RDS, and its test restore.

- `KubeBackupJobs`: the backup CronJob (`kubectl get cronjobs`), its Jobs and their logs
  (`kubectl logs -l job-name=...`), a manual run (`kubectl create job --from=cronjob/...`, built
  as kubectl builds it: the Job template copied, the CronJob as owner, the annotation
  `cronjob.kubernetes.io/instantiate: manual`), and its removal with every Job it owns.
- `S3Backups`: the dumps under one prefix of a bucket, with their ages; fetch and delete.
- `RdsRecords`: the database's RDS record (BackupRetentionPeriod, PreferredBackupWindow, its
  snapshots) and the throwaway instance the test restore is registered as.
- `restore_dump`: gunzip a plain `pg_dump` into a NEW local PostgreSQL (`ServerFactory`) with
  `psql -v ON_ERROR_STOP=1`, then compare every table with the fingerprints the backup Job read
  in the dump's own snapshot.

Nothing here judges: `drills.core.backups` does.
"""

from __future__ import annotations

import functools
import gzip
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from drills.core.backups import BackupObject, JobRun, dump_complete
from drills.core.clock import DrillClock
from drills.core.conditions import Observation
from drills.core.errors import DrillError
from drills.core.waiting import wait_until
from drills.targets.adapters.aws import translate
from drills.targets.adapters.kube import KubeApi, _call
from drills.targets.adapters.postgres import PostgresDatabase
from drills.targets.ports.data import (
    ServerFactory,
    ServerInstance,
    TableFingerprint,
    VerificationResult,
    verify_fingerprints,
)

__all__ = [
    "BACKUP_LABEL",
    "CronJobState",
    "KubeBackupJobs",
    "RdsRecords",
    "RestoreOutcome",
    "S3Backups",
    "backup_cronjob",
    "restore_dump",
]

BACKUP_LABEL = "drills.dev/backup"  # on the CronJob's Jobs: which CronJob they belong to
_SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"
_MANUAL = "cronjob.kubernetes.io/instantiate"


def backup_cronjob(  # noqa: PLR0913 - the coordinates of one backup CronJob
    name: str,
    *,
    image: str,
    schedule: str,
    env: Mapping[str, str],
    url_secret: tuple[str, str],
    suspend: bool = False,
) -> dict[str, Any]:
    """The CronJob manifest: one pod per run, never restarted, the DSN from the Secret."""
    variables: list[dict[str, Any]] = [
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": url_secret[0], "key": url_secret[1]}},
        },
        {
            "name": "JOB_NAME",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}},
        },
        *({"name": k, "value": v} for k, v in env.items()),
    ]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "labels": {BACKUP_LABEL: name}},
        "spec": {
            "schedule": schedule,
            "suspend": suspend,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": {BACKUP_LABEL: name}},
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "metadata": {"labels": {BACKUP_LABEL: name}},
                        "spec": {
                            "restartPolicy": "Never",
                            "terminationGracePeriodSeconds": 5,
                            "containers": [{"name": "backup", "image": image, "env": variables}],
                        },
                    },
                },
            },
        },
    }


@dataclass(frozen=True)
class CronJobState:
    """What `kubectl get cronjobs` shows of the backup CronJob."""

    name: str
    schedule: str
    suspended: bool
    last_schedule: str
    last_successful: str
    active: int

    def describe(self) -> str:
        """One line, as kubectl's columns."""
        return (
            f"cronjob/{self.name} schedule '{self.schedule}' suspend={self.suspended} "
            f"active={self.active} lastSchedule={self.last_schedule or 'never'} "
            f"lastSuccessful={self.last_successful or 'never'}"
        )


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value or "")


class KubeBackupJobs:
    """The backup CronJob `name` in `namespace`, its Jobs and their pods' logs."""

    def __init__(self, api: KubeApi, namespace: str, name: str, *, clock: DrillClock) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.clock = clock
        self.batch: Any = client.BatchV1Api(api.core.api_client)

    def _where(self) -> str:
        return f"cronjob/{self.name} in namespace {self.namespace}"

    def install(self, manifest: Mapping[str, Any]) -> None:
        """Create the CronJob."""
        _call(
            f"create {self._where()}",
            lambda: self.batch.create_namespaced_cron_job(self.namespace, dict(manifest)),
        )

    def _read(self) -> Any | None:
        try:
            return self.batch.read_namespaced_cron_job(self.name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def state(self) -> CronJobState | None:
        """The CronJob as listed; None when it does not exist."""
        found = _call(f"read {self._where()}", self._read)
        if found is None:
            return None
        status = found.status
        return CronJobState(
            name=self.name,
            schedule=str(found.spec.schedule),
            suspended=bool(found.spec.suspend),
            last_schedule=_iso(status.last_schedule_time if status else None),
            last_successful=_iso(status.last_successful_time if status else None),
            active=len((status.active or []) if status else []),
        )

    def _jobs(self) -> list[Any]:
        listed = _call(
            f"list the Jobs of {self._where()}",
            lambda: self.batch.list_namespaced_job(
                self.namespace, label_selector=f"{BACKUP_LABEL}={self.name}"
            ),
        )
        return list(listed.items)

    def runs(self) -> list[JobRun]:
        """Every Job of the CronJob, youngest first."""
        now = self.clock.wall()
        found = []
        for job in self._jobs():
            notes = job.metadata.annotations or {}
            created = job.metadata.creation_timestamp
            found.append(
                JobRun(
                    name=str(job.metadata.name),
                    scheduled=_SCHEDULED in notes or _MANUAL not in notes,
                    age_s=(now - created).total_seconds() if created else 0.0,
                    succeeded=int(job.status.succeeded or 0) if job.status else 0,
                    failed=int(job.status.failed or 0) if job.status else 0,
                )
            )
        return sorted(found, key=lambda r: r.age_s)

    def create_job_from_cronjob(self, job_name: str) -> None:
        """`kubectl create job JOB --from=cronjob/NAME`: the template, owned by the CronJob."""
        cron = _call(f"read {self._where()}", self._read)
        if cron is None:
            raise DrillError(f"{self._where()} does not exist: no manual backup can be made")
        template = self.batch.api_client.sanitize_for_serialization(cron.spec.job_template)
        metadata = template.get("metadata") or {}
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": job_name,
                "labels": metadata.get("labels") or {},
                "annotations": {**(metadata.get("annotations") or {}), _MANUAL: "manual"},
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "CronJob",
                        "name": self.name,
                        "uid": cron.metadata.uid,
                        "controller": True,
                    }
                ],
            },
            "spec": template["spec"],
        }
        _call(
            f"create job/{job_name} from {self._where()}",
            lambda: self.batch.create_namespaced_job(self.namespace, body),
        )

    def logs(self, job_name: str) -> str:
        """`kubectl logs -l job-name=JOB --tail=-1`: every pod's log, one after the other."""
        pods = _call(
            f"list the pods of job/{job_name}",
            lambda: self.api.core.list_namespaced_pod(
                self.namespace, label_selector=f"job-name={job_name}"
            ),
        )
        parts = []
        for pod in pods.items:
            name = str(pod.metadata.name)
            # unparsed: the client would hand the body back as the repr of its bytes
            response = _call(
                f"read the log of pod/{name}",
                functools.partial(
                    self.api.core.read_namespaced_pod_log,
                    name,
                    self.namespace,
                    _preload_content=False,
                ),
            )
            parts.append(response.data.decode("utf-8", errors="replace"))
        return "".join(parts)

    def remove(self, *, timeout_s: float = 60.0) -> bool:
        """Delete the CronJob and every Job it made (their pods with them); False: none was there.

        Waits until the API lists neither, so the pods are gone with them.
        """
        had = _call(f"read {self._where()}", self._read) is not None
        jobs = self._jobs()
        background = client.V1DeleteOptions(propagation_policy="Background")
        if had:
            _call(f"delete {self._where()}", lambda: self._delete_cronjob(background))
        for job in jobs:
            name = str(job.metadata.name)
            _call(f"delete job/{name}", functools.partial(self._delete_job, name, background))

        def gone() -> Observation:
            left = [str(j.metadata.name) for j in self._jobs()]
            pods = self.api.core.list_namespaced_pod(
                self.namespace, label_selector=f"{BACKUP_LABEL}={self.name}"
            ).items
            still = self._read() is not None
            detail = f"cronjob left: {still}, jobs left: {left}, pods left: {len(pods)}"
            return Observation(not still and not left and not pods, detail)

        wait_until(
            gone,
            clock=self.clock,
            timeout_s=timeout_s,
            poll_s=0.5,
            description=f"{self._where()}, its Jobs and pods deleted",
        )
        return had or bool(jobs)

    def _delete_cronjob(self, options: Any) -> None:
        try:
            self.batch.delete_namespaced_cron_job(self.name, self.namespace, body=options)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def _delete_job(self, name: str, options: Any) -> None:
        try:
            self.batch.delete_namespaced_job(name, self.namespace, body=options)
        except ApiException as exc:
            if exc.status != 404:
                raise


class S3Backups:
    """The backup dumps under `prefix` of `bucket`."""

    def __init__(self, s3: Any, bucket: str, prefix: str, *, clock: DrillClock) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.clock = clock

    @classmethod
    def connect(
        cls, bucket: str, prefix: str, *, endpoint_url: str, clock: DrillClock, **credentials: Any
    ) -> S3Backups:
        """The S3 API at `endpoint_url` (moto: dummy credentials)."""
        s3: Any = boto3.client("s3", endpoint_url=endpoint_url, **credentials)
        return cls(s3, bucket, prefix, clock=clock)

    def where(self) -> str:
        """s3://bucket/prefix."""
        return f"s3://{self.bucket}/{self.prefix}"

    def listed(self) -> list[BackupObject]:
        """Every object under the prefix with its age (an absent bucket holds none)."""
        now = self.clock.wall()
        found: list[BackupObject] = []
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                found.extend(
                    BackupObject(
                        key=str(item["Key"]),
                        age_s=(now - item["LastModified"]).total_seconds(),
                        size_bytes=int(item["Size"]),
                    )
                    for item in page.get("Contents", [])
                )
        except botocore.exceptions.ClientError as exc:
            if "NoSuchBucket" in str(exc):
                return []
            raise translate(exc, f"list {self.where()}") from exc
        return found

    def fetch(self, key: str) -> tuple[bytes, dict[str, str]]:
        """The object's bytes and its metadata."""
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=key)
            return bytes(answer["Body"].read()), dict(answer.get("Metadata") or {})
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise translate(exc, f"download s3://{self.bucket}/{key}") from exc

    def delete(self, keys: list[str]) -> None:
        """Delete these objects (only ones under the prefix)."""
        for key in keys:
            if not key.startswith(self.prefix):
                raise DrillError(f"refusing to delete {key}: outside {self.where()}")
            try:
                self.s3.delete_object(Bucket=self.bucket, Key=key)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                raise translate(exc, f"delete s3://{self.bucket}/{key}") from exc


class RdsRecords:
    """RDS records on one endpoint: the database's, and the throwaway restore's."""

    def __init__(self, rds: Any) -> None:
        self.rds = rds

    @classmethod
    def connect(cls, *, endpoint_url: str, **credentials: Any) -> RdsRecords:
        """The RDS API at `endpoint_url` (moto: dummy credentials)."""
        return cls(boto3.client("rds", endpoint_url=endpoint_url, **credentials))

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self.rds, operation)(**kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise translate(exc, f"rds {operation}") from exc
        return answer

    def exists(self, instance_id: str) -> bool:
        """True when describe-db-instances knows the instance."""
        answer = self._call("describe_db_instances")
        return any(i["DBInstanceIdentifier"] == instance_id for i in answer["DBInstances"])

    def register(self, instance_id: str, *, port: int, retention_days: int) -> None:
        """create-db-instance: the RDS record of a local PostgreSQL listening on `port`."""
        self._call(
            "create_db_instance",
            DBInstanceIdentifier=instance_id,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            AllocatedStorage=20,
            DBName="shop",
            MasterUsername="postgres",
            MasterUserPassword="sandbox-only",  # moto's record: no server behind it
            Port=port,
            BackupRetentionPeriod=retention_days,
            PreferredBackupWindow="03:00-04:00",
        )

    def retention(self, instance_id: str) -> tuple[int | None, str]:
        """`describe-db-instances --query '[BackupRetentionPeriod,PreferredBackupWindow]'`."""
        answer = self._call("describe_db_instances", DBInstanceIdentifier=instance_id)
        found = answer["DBInstances"][0]
        days = found.get("BackupRetentionPeriod")
        return (None if days is None else int(days)), str(found.get("PreferredBackupWindow", ""))

    def snapshots(self, instance_id: str) -> list[tuple[str, str]]:
        """`describe-db-snapshots`: (identifier, create time), oldest first."""
        answer = self._call("describe_db_snapshots", DBInstanceIdentifier=instance_id)
        found = [
            (str(s["DBSnapshotIdentifier"]), _iso(s.get("SnapshotCreateTime")))
            for s in answer["DBSnapshots"]
        ]
        return sorted(found, key=lambda s: s[1])

    def delete(self, instance_id: str) -> bool:
        """`delete-db-instance --skip-final-snapshot`; False when it was not there."""
        if not self.exists(instance_id):
            return False
        self._call("delete_db_instance", DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
        return True


@dataclass(frozen=True)
class RestoreOutcome:
    """A test restore: whether the dump loaded, and the data checked against the source."""

    key: str
    complete: bool
    error: str
    verification: VerificationResult | None
    restored_rows: int

    @property
    def ok(self) -> bool:
        """Loaded without error, and every table matches the source at the dump's point."""
        return not self.error and self.verification is not None and self.verification.ok

    def summary(self) -> str:
        """One line for the report."""
        if self.error:
            return f"restore of {self.key} failed: {self.error}"
        check = self.verification.detail if self.verification else "not compared"
        return f"restored {self.key}: {self.restored_rows} rows; {check}"


def manifest_of(metadata: Mapping[str, str]) -> dict[str, TableFingerprint]:
    """The fingerprints the backup Job read in the dump's snapshot (object metadata)."""
    raw = json.loads(metadata.get("fingerprints") or "{}")
    return {
        t: TableFingerprint(table=t, rows=int(v[0]), checksum=str(v[1])) for t, v in raw.items()
    }


def _gunzip(packed: bytes) -> tuple[bytes, str]:
    try:
        return gzip.decompress(packed), ""
    except (OSError, EOFError, zlib.error) as exc:
        return b"", f"gunzip: {exc}"


def restore_dump(
    key: str,
    packed: bytes,
    metadata: Mapping[str, str],
    server: ServerInstance,
    *,
    work: Path,
) -> RestoreOutcome:
    """Load the gzipped plain dump into the started, empty `server`; compare with the source.

    The dump's completeness (pg_dump's closing comment) is read before loading; a load error
    (psql stops at the first one) or a table differing from the Job's fingerprints is reported,
    never raised: the drill judges.
    """
    sql, error = _gunzip(packed)
    complete = dump_complete(sql)
    expected = manifest_of(metadata)
    if error:
        return RestoreOutcome(key, complete, error, None, 0)
    if not expected:
        return RestoreOutcome(key, complete, "the object carries no source fingerprints", None, 0)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "restore.sql"
    path.write_bytes(sql)
    server.own(work)
    try:
        server.run_tool(
            "psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server.admin_dsn(), "-f", str(path)]
        )
    except DrillError as exc:
        error = f"psql stopped: {str(exc).strip()[-400:]}"
    finally:
        path.unlink(missing_ok=True)
    restored = PostgresDatabase(server.name, server.admin_dsn())
    present = set(restored.tables())
    actual = restored.fingerprint([t for t in expected if t in present])
    result = verify_fingerprints(expected, actual)
    rows = sum(fp.rows for fp in actual.values())
    return RestoreOutcome(key, complete, error, result, rows)


def new_server(factory: ServerFactory, name: str) -> ServerInstance:
    """An empty, started local instance: the throwaway `dhakacart-db-test` of step 5."""
    server = factory.empty(name)
    server.start()
    return server
