"""The `rds-delete-instance` rollback kind: delete-db-instance --skip-final-snapshot, replayed.

The RDS profile's data drills (drills.targets.adapters.rds_restore) record it before each
restore call, so an instance a crashed drill created is deleted by `drills rollback` exactly as
the drill would have (its snapshots under the run's prefix first, then the instance, then a
check that RDS no longer lists it). The entry names the endpoint: the sandbox's moto (dummy
credentials) or "" for AWS itself (the default credential chain, the entry's region).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drills.core.clock import SystemClock
from drills.core.errors import DrillError
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.sandbox.aws import DUMMY_CREDENTIALS
from drills.targets.adapters.aws import RdsAdapter
from drills.targets.adapters.rds_restore import RDS_DELETE_KIND, delete_instance

__all__ = ["rds_from_args", "register_rds_rollbacks", "replay_rds_delete"]


def rds_from_args(args: Mapping[str, Any]) -> RdsAdapter:
    """The RDS API the entry names (moto with dummy credentials, or AWS in its region)."""
    endpoint = str(args.get("endpoint_url") or "")
    if endpoint:
        return RdsAdapter.connect(endpoint_url=endpoint, **DUMMY_CREDENTIALS)
    return RdsAdapter.connect(region_name=str(args.get("region") or "") or None)


def replay_rds_delete(entry: RollbackEntry) -> Replayed:
    """Replay one pending `rds-delete-instance` entry."""
    instance_id = str(entry.args.get("instance_id") or "")
    if not instance_id:
        raise DrillError(
            f"the {RDS_DELETE_KIND} entry {entry.entry_id} names no instance; delete the "
            "drill's restored instance by hand (aws rds delete-db-instance --skip-final-snapshot)"
        )
    rds = rds_from_args(entry.args)
    prefix = str(entry.args.get("snapshot_prefix") or "")
    removed = delete_instance(rds, instance_id, prefix, clock=SystemClock())
    return Replayed.RESTORED if removed else Replayed.ALREADY


def register_rds_rollbacks(registry: RollbackRegistry) -> None:
    """Register `rds-delete-instance`."""
    registry.register(RDS_DELETE_KIND, replay_rds_delete)
