"""Port for the user traffic generator."""

from __future__ import annotations

from typing import Protocol

__all__ = ["LoadGenerator"]


class LoadGenerator(Protocol):
    """Generates user traffic during a drill and reports what users saw."""

    def stop(self) -> None:
        """Stop all traffic; idempotent."""
        ...
