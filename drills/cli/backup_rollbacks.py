"""The rollbacks of `backup-verification` (RUNBOOKS.md §3.8), in process and from the ledger.

The drill prepares two things, each with its rollback on disk before it acts:

- `backup-chain`: the backup CronJob, the RDS record of the database it backs up and the dumps
  its Jobs upload under the run's own prefix of the bucket. The rollback deletes the CronJob
  and every Job it made (their pods with them), every object under that prefix (nothing else:
  the prefix is the run's) and the RDS record.
- `backup-test-instance`: the throwaway instance of the test restore, a local PostgreSQL and its
  RDS record. The drill deletes it itself as the runbook's last step; the rollback removes
  whatever is left, so a crash leaves no instance behind.

Both read first and do only what is still needed (`Replayed.ALREADY` when nothing was). It sits
at the top layer because it joins the sandbox's local instances and the adapters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from drills.core.clock import DrillClock, SystemClock
from drills.core.errors import ConfigError
from drills.core.safety import Allowlist, JsonScalar, Replayed, RollbackEntry, RollbackRegistry
from drills.sandbox.aws import DUMMY_CREDENTIALS
from drills.sandbox.postgres import LocalPostgres, LocalPostgresFactory
from drills.targets.adapters.backups import KubeBackupJobs, RdsRecords, S3Backups
from drills.targets.adapters.kube import connect
from drills.targets.ports.data import ServerInstance

__all__ = [
    "BACKUP_CHAIN_KIND",
    "TEST_INSTANCE_KIND",
    "ChainPlan",
    "InstancePlan",
    "register_backup_rollbacks",
    "remove_chain",
    "remove_instance",
]

BACKUP_CHAIN_KIND = "backup-chain"
TEST_INSTANCE_KIND = "backup-test-instance"


@dataclass(frozen=True)
class ChainPlan:
    """What the backup chain's rollback removes, and how to reach it again."""

    kubeconfig: str
    context: str
    namespace: str
    cronjob: str
    aws_endpoint: str
    bucket: str
    prefix: str
    rds_id: str

    def args(self) -> dict[str, JsonScalar]:
        """The ledger entry's arguments."""
        return dict(asdict(self))

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> ChainPlan:
        """Back from a ledger entry; ConfigError naming what is missing."""
        missing = [k for k in cls.__dataclass_fields__ if not args.get(k)]
        if missing:
            raise ConfigError(
                f"the {BACKUP_CHAIN_KIND} entry lacks {', '.join(missing)}; delete the backup "
                "CronJob, its Jobs, the run's objects and RDS record by hand"
            )
        return cls(**{k: str(args[k]) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class InstancePlan:
    """The throwaway instance: its local server and its RDS record."""

    postgres_root: str
    name: str
    aws_endpoint: str
    rds_id: str

    def args(self) -> dict[str, JsonScalar]:
        """The ledger entry's arguments."""
        return dict(asdict(self))

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> InstancePlan:
        """Back from a ledger entry; ConfigError naming what is missing."""
        missing = [k for k in cls.__dataclass_fields__ if not args.get(k)]
        if missing:
            raise ConfigError(
                f"the {TEST_INSTANCE_KIND} entry lacks {', '.join(missing)}; stop and delete "
                "the throwaway PostgreSQL and its RDS record by hand"
            )
        return cls(**{k: str(args[k]) for k in cls.__dataclass_fields__})


def rds_records(endpoint: str) -> RdsRecords:
    """The RDS API at `endpoint` (the sandbox's moto)."""
    return RdsRecords.connect(endpoint_url=endpoint, **DUMMY_CREDENTIALS)


def s3_backups(plan: ChainPlan, *, clock: DrillClock) -> S3Backups:
    """The run's prefix of the backup bucket."""
    return S3Backups.connect(
        plan.bucket, plan.prefix, endpoint_url=plan.aws_endpoint, clock=clock, **DUMMY_CREDENTIALS
    )


def remove_chain(
    plan: ChainPlan, jobs: KubeBackupJobs, objects: S3Backups, rds: RdsRecords
) -> Replayed:
    """Delete the CronJob and its Jobs, the run's objects and the RDS record (module doc)."""
    removed = jobs.remove()
    keys = [b.key for b in objects.listed()]
    objects.delete(keys)
    removed = rds.delete(plan.rds_id) or removed or bool(keys)
    return Replayed.RESTORED if removed else Replayed.ALREADY


def remove_instance(plan: InstancePlan, server: ServerInstance, rds: RdsRecords) -> Replayed:
    """Delete the throwaway's RDS record and stop and delete its local server."""
    removed = rds.delete(plan.rds_id)
    if server.status() != "absent":
        server.remove()
        removed = True
    return Replayed.RESTORED if removed else Replayed.ALREADY


def local_server(plan: InstancePlan) -> LocalPostgres:
    """The throwaway's local PostgreSQL under the sandbox's root.

    Built as `LocalPostgresFactory.empty` builds it: no WAL archiving, so the primary's shared
    archive stays the primary's.
    """
    return LocalPostgresFactory(Path(plan.postgres_root)).empty(plan.name)


def replay_chain(entry: RollbackEntry) -> Replayed:
    """`drills rollback` of a `backup-chain` entry."""
    plan = ChainPlan.from_args(entry.args)
    allowlist = Allowlist(kube_contexts=(plan.context,), namespaces=(plan.namespace,))
    allowlist.check_namespace(plan.namespace)
    api = connect(Path(plan.kubeconfig), allowlist=allowlist, context=plan.context)
    clock = SystemClock()
    jobs = KubeBackupJobs(api, plan.namespace, plan.cronjob, clock=clock)
    return remove_chain(plan, jobs, s3_backups(plan, clock=clock), rds_records(plan.aws_endpoint))


def replay_instance(entry: RollbackEntry) -> Replayed:
    """`drills rollback` of a `backup-test-instance` entry."""
    plan = InstancePlan.from_args(entry.args)
    return remove_instance(plan, local_server(plan), rds_records(plan.aws_endpoint))


def register_backup_rollbacks(registry: RollbackRegistry) -> None:
    """Register `backup-chain` and `backup-test-instance`."""
    registry.register(BACKUP_CHAIN_KIND, replay_chain)
    registry.register(TEST_INSTANCE_KIND, replay_instance)
