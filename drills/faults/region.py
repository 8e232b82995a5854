"""The changes a region-failover rehearsal makes (RUNBOOKS.md §3.17), each undone from the ledger.

- `BackupRegion` (prepared with `Drill.prepare`): a second environment standing in as the
  backup region. Rollback: taken down, nothing of it left. Kind `backup-region`.
- `EntrySwitch` (recorded with `Drill.prepare` as the recovery makes it): the runbook's "DNS
  change", the address users reach now leading to the backup region. Rollback: the address
  leads to the primary again. Kind `entry-switch`.

The primary's loss itself is `drills.faults.pods.ScaleTo` (its shop at 0) plus
`drills.faults.replica.PrimaryKilled` under the kind `region-primary-killed` (its database
stopped `-m immediate`; the rollback restarts it and copies back what users wrote in the
backup region). What each change does lives with the environment (drills.cli.region_rollbacks
for the sandbox), so these take it as callables and `drills rollback` replays the same code
from the entries' args after a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from drills.core.safety import JsonScalar, RollbackEntry

__all__ = ["BACKUP_REGION", "ENTRY_SWITCH", "REGION_PRIMARY_KILLED", "BackupRegion", "EntrySwitch"]

BACKUP_REGION = "backup-region"
ENTRY_SWITCH = "entry-switch"
REGION_PRIMARY_KILLED = "region-primary-killed"


@dataclass
class BackupRegion:
    """A second environment started as the backup region (see the module doc)."""

    name: str
    start: Callable[[], object]
    stop: Callable[[], object]
    args: Mapping[str, JsonScalar]
    kind: str = BACKUP_REGION

    @property
    def target(self) -> str:
        """The region."""
        return f"region/{self.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"start the backup region {self.name} (rollback: taken down, nothing left)"

    def rollback_entry(self) -> RollbackEntry:
        """Take the region down, replayable from the args."""
        return RollbackEntry(self.kind, self.target, dict(self.args))

    def apply(self) -> None:
        """Start it."""
        self.start()

    def rollback(self) -> None:
        """Take it down; idempotent."""
        self.stop()


@dataclass
class EntrySwitch:
    """Users' address switched to the backup region (the runbook's DNS change)."""

    entry: str
    region: str
    switch: Callable[[], object]
    switch_back: Callable[[], object]
    args: Mapping[str, JsonScalar]
    kind: str = ENTRY_SWITCH

    @property
    def target(self) -> str:
        """The entry switched."""
        return f"entry/{self.entry}"

    def describe(self) -> str:
        """One line for the plan."""
        return (
            f"switch the entry {self.entry} to the backup region {self.region} "
            "(rollback: the entry leads to the primary again)"
        )

    def rollback_entry(self) -> RollbackEntry:
        """Switch back, replayable from the args."""
        return RollbackEntry(self.kind, self.target, dict(self.args))

    def apply(self) -> None:
        """Switch."""
        self.switch()

    def rollback(self) -> None:
        """Switch back; idempotent."""
        self.switch_back()
