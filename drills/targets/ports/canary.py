"""Port for the canary ledger's table (`drills.core.canary`): create, write, read back, drop."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

__all__ = ["CanaryReader", "CanaryTable"]


class CanaryTable(Protocol):
    """The harness's own table in one database, reached over the harness's own connection."""

    @property
    def name(self) -> str:
        """The table's name (`drills_canary_<run>`)."""
        ...

    def create(self, comment: str) -> None:
        """Create the table (if missing) with `comment` on it, so nobody mistakes it."""
        ...

    def write(self, seq: int, digest: str, *, timeout_s: float) -> None:
        """Insert canary `seq` and return only once its COMMIT returned; raise otherwise.

        A failed write drops the connection; the next write connects again.
        """
        ...

    def close(self) -> None:
        """Close the writing connection."""
        ...

    def drop(self) -> bool:
        """Drop the table; False when it was not there."""
        ...


# Reads the canaries a database (by DSN) holds, key -> (digest, copies); None: no such table.
CanaryReader = Callable[[str, str], Mapping[str, tuple[str, int]] | None]
