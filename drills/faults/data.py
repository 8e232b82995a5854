"""Destructive statements as faults (RUNBOOKS §3.6, §3.7): DROP TABLE, mass DELETE, bad UPDATE.

Right before the statement the fault makes a named restore point (`pg_create_restore_point`, then
a WAL switch) and notes the drill-clock time, so point-in-time recovery can stop just before the
damage and the ledger knows when the fault happened. The rollback has nothing to undo: data
destroyed stays destroyed until the drill's recovery restores it. The entry is still recorded so
the report shows what was done and `drills rollback` marks it as needing no action.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from drills.core.clock import DrillClock
from drills.core.errors import DrillError, InjectionFailed
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.targets.ports.data import Database, RecoveryPoint

__all__ = [
    "DATA_DESTROYED",
    "DestructiveStatement",
    "drop_table",
    "mass_delete",
    "register_data_rollback",
]

DATA_DESTROYED = "data-destroyed"


@dataclass
class DestructiveStatement:
    """Run one damaging statement; remember the restore point and the fault time.

    `point_at_s` is the drill-clock time just before the restore point was made; `fault_at_s` the
    time the statement had finished (every write acknowledged before it counts for the RPO).
    """

    database: Database
    admin: Database
    statement: str
    clock: DrillClock
    label: str
    kind: str = DATA_DESTROYED
    point: RecoveryPoint | None = None
    point_at_s: float | None = None
    fault_at_s: float | None = None
    rows_affected: int | None = None
    keep: tuple[str, Path] | None = None  # (table, file): copy its rows aside in the same txn

    @property
    def target(self) -> str:
        """The database damaged."""
        return f"database/{self.database.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"{self.label} on {self.target}: {self.statement}"

    def rollback_entry(self) -> RollbackEntry:
        """Recorded for the report; there is nothing a rollback could undo."""
        return RollbackEntry(
            self.kind, self.target, {"statement": self.statement, "undo": "restore from backup"}
        )

    def apply(self) -> None:
        """Mark a restore point, note the time, run the statement."""
        point_name = f"drills-before-{self.label}-{uuid.uuid4().hex[:6]}"
        self.point_at_s = self.clock.now()
        try:
            self.point = self.admin.create_restore_point(point_name)
        except DrillError as exc:
            raise InjectionFailed(f"could not mark a restore point first: {exc}") from exc
        try:
            if self.keep is None:
                self.rows_affected = self.database.execute(self.statement)
            else:
                table, path = self.keep
                self.rows_affected = self.database.execute_keeping(self.statement, table, path)
        except DrillError as exc:
            raise InjectionFailed(f"{self.label} failed: {exc}") from exc
        self.fault_at_s = self.clock.now()

    def recovery_point(self) -> tuple[RecoveryPoint, float]:
        """The restore point made before the statement and the drill time just before it.

        Raises DrillError (a harness ERROR, not a FAIL of the system) when the fault has not
        recorded one: it was not applied, or applied by code that skipped the restore point.
        """
        if self.point is None or self.point_at_s is None:
            raise DrillError(
                f"{self.describe()}: no restore point was recorded before the statement, so "
                "point-in-time recovery has no target; inject the fault with Drill.inject first"
            )
        return self.point, self.point_at_s

    def rollback(self) -> None:
        """Nothing to undo: recovery is the drill's restore, not a rollback."""


def drop_table(
    database: Database,
    admin: Database,
    table: str,
    *,
    clock: DrillClock,
    keep: Path | None = None,
) -> DestructiveStatement:
    """DROP TABLE (the table name is quoted).

    With `keep`, the rows the statement destroys are first copied to that file in the same
    transaction: not for the drill's recovery (which must do without), but so the clean-up can
    give the environment back every row it had, the ones the restore cannot bring back too.
    """
    quoted = '"' + table.replace('"', '""') + '"'
    statement = DestructiveStatement(database, admin, f"DROP TABLE {quoted}", clock, "drop-table")
    statement.keep = None if keep is None else (table, keep)
    return statement


def mass_delete(  # noqa: PLR0913 - the statement's parts, keyword-only
    database: Database,
    admin: Database,
    table: str,
    *,
    clock: DrillClock,
    keep_every: int = 10,
    keep: Path | None = None,
) -> DestructiveStatement:
    """DELETE most rows of a table (leaves one row in `keep_every` by id); `keep` as drop_table."""
    quoted = '"' + table.replace('"', '""') + '"'
    sql = f"DELETE FROM {quoted} WHERE id % {int(keep_every)} <> 0"
    statement = DestructiveStatement(database, admin, sql, clock, "mass-delete")
    statement.keep = None if keep is None else (table, keep)
    return statement


def register_data_rollback(registry: RollbackRegistry) -> None:
    """`drills rollback` accepts data-destroyed entries as needing no action."""

    def nothing_to_undo(entry: RollbackEntry) -> Replayed:
        del entry
        return Replayed.ALREADY

    registry.register(DATA_DESTROYED, nothing_to_undo)
