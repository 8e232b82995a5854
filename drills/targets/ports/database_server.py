"""A database server as its operator sees it: the process, and its server-wide settings.

`DatabaseServer` is the server process a drill may stop and start again (the sandbox's local
PostgreSQL satisfies it: `drills.sandbox.postgres.LocalPostgres`); it must come back on the same
port, since the clients' DSNs name it. `ServerSettings` is its configuration: a drill that needs
the server configured differently for a while (the `db-connection-failure` defect: commits
acknowledged before their WAL is written) changes settings through this port and records their
reset first, so the server is left as found. Only settings the drill set itself
are reset: one already present in the server's own override file is not the drill's to touch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol

__all__ = ["DatabaseServer", "ServerSettings"]


class DatabaseServer(Protocol):
    """One database server process the harness may stop and start (its data stays)."""

    name: str

    @property
    def port(self) -> int | None:
        """The TCP port of its last start (None: never started)."""
        ...

    @property
    def log_path(self) -> Path:
        """The server's log (crash recovery says what it replayed there)."""
        ...

    def start(self, *, timeout_s: float = 60.0) -> str:
        """Start on the same data and wait until it accepts connections; return the DSN."""
        ...

    def stop(
        self, mode: Literal["smart", "fast", "immediate"] = "fast", *, timeout_s: float = 60.0
    ) -> None:
        """Stop the server; `immediate` is a crash (no shutdown checkpoint)."""
        ...

    def status(self) -> Literal["absent", "stopped", "running"]:
        """Whether it exists and runs."""
        ...


class ServerSettings(Protocol):
    """The server-wide configuration of one database server (a superuser's view)."""

    name: str

    def show(self, names: Sequence[str]) -> dict[str, str]:
        """The values a new session sees now (`SHOW name`), by name."""
        ...

    def overridden(self, names: Sequence[str]) -> list[str]:
        """Which of `names` are set by ALTER SYSTEM (postgresql.auto.conf) right now."""
        ...

    def alter_system(self, values: Mapping[str, str]) -> None:
        """ALTER SYSTEM SET each value, then reload the configuration."""
        ...

    def reset_system(self, names: Sequence[str]) -> None:
        """ALTER SYSTEM RESET each name, then reload the configuration."""
        ...
