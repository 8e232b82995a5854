"""The primary lost while a streaming replica runs (RUNBOOKS.md §3.7 `replica-promote`).

Two changes, each with its rollback on disk before it acts:

- `StandbyReplica` (prepared with `Drill.prepare`, before the steady state): a physical
  replication slot on the primary, then a second server streaming from it through that slot.
  Rollback: the replica (its process and files) and the slot go. Kind `standby-replica`.
- `PrimaryKilled` (the fault, `Drill.inject`): `pg_ctl stop -m immediate` on the primary, a
  crash without a shutdown checkpoint. Rollback: start the primary again (crash recovery keeps
  what it committed), copy the promoted replica's data into it, rows only the primary has put
  back, the shop pointed back at it and restarted, rows written on the replica meanwhile
  drained over. Kind `primary-killed`.

What those rollbacks do lives with the sandbox's instances (`drills.cli.replica_rollbacks`),
so the faults take them as callables and `drills rollback` replays the same code from the
entries' args after a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from drills.core.errors import InjectionFailed
from drills.core.safety import JsonScalar, RollbackEntry
from drills.targets.ports.data import ServerInstance

__all__ = ["PRIMARY_KILLED", "STANDBY_REPLICA", "PrimaryKilled", "StandbyReplica"]

STANDBY_REPLICA = "standby-replica"
PRIMARY_KILLED = "primary-killed"


@dataclass
class StandbyReplica:
    """A slot on the primary and a replica streaming through it (see the module doc)."""

    name: str
    slot: str
    create: Callable[[], ServerInstance]
    remove: Callable[[], object]
    args: Mapping[str, JsonScalar]
    server: ServerInstance | None = None
    kind: str = STANDBY_REPLICA

    @property
    def target(self) -> str:
        """The replica."""
        return f"database/{self.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return (
            f"replication slot {self.slot} on the primary and a streaming replica {self.name} "
            "(rollback: the replica and the slot removed)"
        )

    def rollback_entry(self) -> RollbackEntry:
        """Remove the replica and drop the slot, replayable from the args."""
        return RollbackEntry(self.kind, self.target, dict(self.args))

    def apply(self) -> None:
        """Create the slot and the replica (pg_basebackup through the slot), started."""
        self.server = self.create()

    def rollback(self) -> None:
        """Replica stopped and deleted, slot dropped; idempotent."""
        self.remove()


@dataclass
class PrimaryKilled:
    """`pg_ctl stop -m immediate` on the primary; the rollback reinstates it (module doc)."""

    primary: ServerInstance
    undo: Callable[[], object]
    args: Mapping[str, JsonScalar]
    done: object | None = None
    kind: str = PRIMARY_KILLED

    @property
    def target(self) -> str:
        """The primary."""
        return f"database/{self.primary.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return (
            f"pg_ctl stop -m immediate on {self.target} (a crash, no shutdown checkpoint; "
            "rollback: restart it, refill it from the promoted replica, point the shop back)"
        )

    def rollback_entry(self) -> RollbackEntry:
        """Restart and reinstate the primary, replayable from the args."""
        return RollbackEntry(self.kind, self.target, dict(self.args))

    def apply(self) -> None:
        """Stop the primary immediately; refuse when it was not running or still runs after."""
        if self.primary.status() != "running":
            raise InjectionFailed(f"{self.target} is not running: there is no primary to lose")
        self.primary.stop("immediate")
        if self.primary.status() == "running":
            raise InjectionFailed(f"{self.target} still runs after pg_ctl stop -m immediate")

    def rollback(self) -> None:
        """Primary back with every row, the shop on it, the replica gone; idempotent."""
        self.done = self.undo()
