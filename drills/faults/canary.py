"""The canary table as a prepared change: created before the steady state, dropped at the end.

It is not a fault: `Drill.prepare()` records its rollback (drop the table) on disk before the
table exists, so `drills rollback` drops it after a crash, and the drill drops it with the
faults' rollbacks, after them (it was recorded first). Its rollback stops the writer first.
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.core.safety import RollbackEntry
from drills.core.secrets import without_password
from drills.load.canary import CanaryWriter

__all__ = ["CANARY_TABLE", "CanaryTableChange"]

CANARY_TABLE = "canary-table"  # = drills.targets.adapters.data_rollbacks.CANARY_TABLE_KIND


@dataclass
class CanaryTableChange:
    """Create `writer.table` in the database at `dsn`; the rollback stops the writer, drops it."""

    writer: CanaryWriter
    dsn: str
    run_id: str
    kind: str = CANARY_TABLE

    @property
    def target(self) -> str:
        """The table."""
        return f"table/{self.writer.table.name}"

    def describe(self) -> str:
        """One line for the plan."""
        rate = self.writer.settings.rate_per_s
        return f"create the canary table {self.writer.table.name} ({rate:g} writes/s by drills)"

    def rollback_entry(self) -> RollbackEntry:
        """The DSN without its password, and the table's name."""
        return RollbackEntry(
            self.kind,
            self.target,
            {"dsn": without_password(self.dsn), "table": self.writer.table.name},
        )

    def apply(self) -> None:
        """Create the table, with a comment naming the run that owns it."""
        self.writer.table.create(
            f"canary rows written by the drills harness, run {self.run_id}; dropped when the "
            "drill ends, safe to drop (drills rollback does)"
        )

    def rollback(self) -> None:
        """Stop the writer, then drop the table (idempotent)."""
        self.writer.stop()
        self.writer.table.drop()
