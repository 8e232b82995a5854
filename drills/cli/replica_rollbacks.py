"""The rollbacks of `pitr --variant replica-promote` (kinds `standby-replica`, `primary-killed`).

The drill runs these in process (through its faults, drills.faults.replica) and `drills
rollback` replays them from the entries' args after a crash, so both do the same thing:

- `remove_standby`: the replica's server stopped and its directory deleted, then the slot
  dropped on the primary (once no walsender holds it). An orphaned slot would keep every WAL
  segment on the primary from then on, so it never stays behind.
- `restart_and_reinstate`: the killed primary started again on its own port (crash recovery),
  then the `data-reinstate` of drills.targets.adapters.reinstate with the replica as the
  "restored" instance: when the shop runs on the promoted replica its data is copied into the
  primary, the rows only the primary has (acknowledged, never streamed) are put back, the shop
  is pointed back and restarted, rows it wrote on the replica meanwhile are drained over, and
  the replica goes. When the shop never moved, the primary is left as its crash recovery made
  it and only the replica goes.

This module joins the sandbox's instances and the adapters, so it sits at the top layer like
drills.cli.reinstate.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from drills.cli.reinstate import reinstate_from_plan
from drills.core.clock import DrillClock, SystemClock
from drills.core.conditions import Observation
from drills.core.errors import DrillError
from drills.core.safety import JsonScalar, Replayed, RollbackEntry, RollbackRegistry
from drills.core.waiting import wait_until
from drills.faults.replica import PRIMARY_KILLED, STANDBY_REPLICA
from drills.sandbox.postgres import LocalPostgres, LocalPostgresFactory
from drills.targets.adapters.reinstate import Reinstated, ReinstatePlan
from drills.targets.adapters.replication import drop_slot
from drills.targets.ports.config import ServiceConfig

__all__ = [
    "primary_of",
    "register_replica_rollbacks",
    "remove_standby",
    "restart_and_reinstate",
]

SLOT_RELEASE_S = 30.0  # a walsender ends within a second of its replica going away


def primary_of(args: Mapping[str, JsonScalar]) -> LocalPostgres:
    """The primary as the sandbox runs it (same settings on restart: `max_connections`)."""
    return LocalPostgres(
        Path(str(args["postgres_root"])),
        name=str(args.get("primary", "primary")),
        max_connections=int(str(args.get("max_connections", 60))),
    )


def remove_standby(args: Mapping[str, JsonScalar], *, clock: DrillClock) -> bool:
    """Replica gone, then its slot dropped; True when there was something to remove.

    `replica_root` names the replica's instances root when it is not the primary's (the
    region-failover standby lives in the backup region's sandbox).
    """
    root = args.get("replica_root") or args["postgres_root"]
    replica = LocalPostgresFactory(str(root)).empty(str(args["replica"]))
    existed = replica.status() != "absent"
    replica.remove()
    primary = primary_of(args)
    if primary.status() != "running":
        raise DrillError(
            f"slot {args['slot']} cannot be dropped: the primary is not running (its own "
            "rollback restarts it; run `drills rollback` again once it is up)"
        )
    dropped = [False]

    def released() -> Observation:
        try:
            dropped[0] = drop_slot(primary.admin_dsn(), str(args["slot"])) or dropped[0]
        except DrillError as exc:  # still active: its walsender has not exited yet
            return Observation(ok=False, detail=str(exc))
        return Observation(ok=True, detail="slot dropped" if dropped[0] else "no such slot")

    wait_until(
        released,
        clock=clock,
        timeout_s=SLOT_RELEASE_S,
        poll_s=0.2,
        description=f"replication slot {args['slot']} released and dropped",
    )
    return existed or dropped[0]


def restart_and_reinstate(
    args: Mapping[str, JsonScalar],
    *,
    clock: DrillClock,
    config: ServiceConfig | None = None,
    primary_url: str | None = None,
) -> Reinstated:
    """Start the killed primary on its old port, then reinstate it from the replica."""
    primary = primary_of(args)
    port = primary.port
    primary.start()
    if primary.port != port:
        raise DrillError(
            f"the primary came back on port {primary.port}, not {port} (taken meanwhile?): "
            "the shop's URL names the old one; stop it and `drills rollback` again"
        )
    plan = ReinstatePlan.from_args(args)
    return reinstate_from_plan(plan, clock=clock, config=config, primary_url=primary_url)


def _replay_standby(entry: RollbackEntry) -> Replayed:
    removed = remove_standby(entry.args, clock=SystemClock())
    return Replayed.RESTORED if removed else Replayed.ALREADY


def _replay_primary(entry: RollbackEntry) -> Replayed:
    was_down = primary_of(entry.args).status() != "running"
    done = restart_and_reinstate(entry.args, clock=SystemClock())
    return Replayed.RESTORED if was_down or done.did_anything else Replayed.ALREADY


def register_replica_rollbacks(registry: RollbackRegistry) -> None:
    """Register both kinds (called from drills.cli.reinstate's entry point)."""
    registry.register(STANDBY_REPLICA, _replay_standby)
    registry.register(PRIMARY_KILLED, _replay_primary)
