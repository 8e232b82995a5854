"""Ports for the data tier: a PostgreSQL database and a snapshot store."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Database", "SnapshotStore"]


class Database(Protocol):
    """A PostgreSQL database the drill can reach."""

    name: str

    def dsn(self) -> str:
        """Connection string (secrets are never logged by callers)."""
        ...

    def is_reachable(self) -> bool:
        """True when `SELECT 1` succeeds right now."""
        ...


class SnapshotStore(Protocol):
    """Where snapshots/backups live and how they are restored."""

    def list_snapshots(self) -> list[str]:
        """Snapshot identifiers, oldest first."""
        ...
