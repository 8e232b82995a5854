"""The rollbacks of `region-failover` on the sandbox: the backup region, the primary, the entry.

Kinds `backup-region`, `region-primary-killed` and `entry-switch`. The drill runs these in
process (through drills.faults.region and drills.faults.replica) and `drills rollback` replays
them from the entries' args after a crash, so both do the same thing:

- `backup-region`: the second sandbox taken down (`drills.sandbox.region.stop_region`: every
  process, its pod network, its root). `drills rollback` replays the oldest entry first, and
  this one is the oldest: a standby still running in the region then holds the orders users
  wrote there, so the primary's failback runs first (restart, copy home) and the standby and
  its slot go, before the region does;
- `region-primary-killed`: the primary's PostgreSQL started again on its own port (crash
  recovery), then every order the backup region's database holds whose key the primary lacks
  copied home (the failback of what users wrote during the failover); the standby itself goes
  with its own `standby-replica` entry;
- `entry-switch`: the imported EndpointSlice deleted (drills.targets.adapters.region_entry).

This module joins the sandbox's instances and the adapters, so it sits at the top layer like
drills.cli.replica_rollbacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from drills.cli.replica_rollbacks import primary_of, remove_standby
from drills.core.clock import DrillClock, SystemClock
from drills.core.errors import DrillError
from drills.core.safety import JsonScalar, Replayed, RollbackEntry, RollbackRegistry
from drills.faults.region import BACKUP_REGION, REGION_PRIMARY_KILLED
from drills.sandbox.postgres import LocalPostgresFactory
from drills.sandbox.region import stop_region
from drills.targets.adapters.region_entry import register_rollbacks as register_entry
from drills.targets.adapters.reinstate import ReinstatePlan, copy_missing_rows

__all__ = ["Failback", "register_region_rollbacks", "restart_and_fail_back", "take_region_down"]


@dataclass(frozen=True)
class Failback:
    """What the primary's rollback did: restarted it or not, orders copied home, how long."""

    restarted: bool
    copied: int
    duration_s: float

    def summary(self) -> str:
        """One line for the report."""
        started = "primary restarted (crash recovery)" if self.restarted else "primary was up"
        return f"{started}; {self.copied} order(s) written in the backup region copied home"


def restart_and_fail_back(args: Mapping[str, JsonScalar], *, clock: DrillClock) -> Failback:
    """Start the killed primary on its old port, then copy the backup region's orders home."""
    started = clock.now()
    primary = primary_of(args)
    restarted = primary.status() != "running"
    if restarted:
        port = primary.port
        primary.start()
        if primary.port != port:
            raise DrillError(
                f"the primary came back on port {primary.port}, not {port} (taken meanwhile?): "
                "the shop's URL names the old one; stop it and `drills rollback` again"
            )
    standby = LocalPostgresFactory(str(args["replica_root"])).empty(str(args["replica"]))
    copied = 0
    if standby.status() == "running":
        plan = ReinstatePlan.from_args({**args, "restored": str(args["replica"])})
        copied = copy_missing_rows(plan, primary, standby)
    return Failback(restarted, copied, clock.now() - started)


def take_region_down(args: Mapping[str, JsonScalar], *, clock: DrillClock) -> bool:
    """The backup region down; a standby still running there fails back and goes first.

    True when there was a region to take down. In the drill's own rollbacks (newest first)
    the standby is gone by then and only the region goes.
    """
    if args.get("replica"):
        standby = LocalPostgresFactory(str(args["replica_root"])).empty(str(args["replica"]))
        if standby.status() == "running":
            restart_and_fail_back(args, clock=clock)
            remove_standby(args, clock=clock)
    return stop_region(Path(str(args["region_root"])))


def _replay_primary(entry: RollbackEntry) -> Replayed:
    done = restart_and_fail_back(entry.args, clock=SystemClock())
    return Replayed.RESTORED if done.restarted or done.copied else Replayed.ALREADY


def _replay_region(entry: RollbackEntry) -> Replayed:
    stopped = take_region_down(entry.args, clock=SystemClock())
    return Replayed.RESTORED if stopped else Replayed.ALREADY


def register_region_rollbacks(registry: RollbackRegistry) -> None:
    """Register the three kinds (called from drills.cli.reinstate's entry point)."""
    registry.register(BACKUP_REGION, _replay_region)
    registry.register(REGION_PRIMARY_KILLED, _replay_primary)
    register_entry(registry)
