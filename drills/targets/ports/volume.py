"""Port for a size-capped volume the shop writes its logs to (RUNBOOKS.md §3.15).

The disk-full drill needs a filesystem it may fill without touching anything else: the
harness mounts one with a size cap (`drills.targets.adapters.tmpfs_volume`, a tmpfs), seeds it
as a live log volume would be found, reads its usage (`df`), its biggest entries (`du -sh * |
sort -h`) and an inventory of its files, and removes, truncates or fills files on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from drills.core.disk import FileEntry

__all__ = ["CappedVolume", "SeedFile", "VolumeUsage"]


@dataclass(frozen=True)
class VolumeUsage:
    """One `df` reading of the volume, in bytes."""

    used: int
    total: int

    @property
    def share(self) -> float:
        """Used share, 0..1 (what `df` prints as Use%)."""
        return self.used / self.total if self.total else 0.0

    def describe(self) -> str:
        """`12.1 MiB of 16.0 MiB used (76%)`, as `df -h` reads."""
        mib = 1024 * 1024
        return f"{self.used / mib:.1f} MiB of {self.total / mib:.1f} MiB used ({self.share:.0%})"


@dataclass(frozen=True)
class SeedFile:
    """A file the volume is found with: path relative to its root, size, age in days."""

    path: str
    size: int
    age_days: float


class CappedVolume(Protocol):
    """A filesystem of a fixed size mounted at `root`, which only the drill and the shop use."""

    root: Path
    size_bytes: int

    def unavailable(self) -> str | None:
        """Why the volume cannot be mounted here (not root, no tmpfs), or None."""
        ...

    def mount(self) -> None:
        """Mount it at `root` (created when missing); refuses when something is mounted there."""
        ...

    def unmount(self) -> bool:
        """Unmount it (lazily when busy) and remove `root`; False when it was not mounted."""
        ...

    def usage(self) -> VolumeUsage:
        """`df` of the volume (statvfs)."""
        ...

    def biggest(self) -> list[tuple[str, int]]:
        """`du -s` of each top-level entry, biggest last (`du -sh * | sort -h`)."""
        ...

    def inventory(self) -> list[FileEntry]:
        """Every regular file under `root`: path, size, mtime, SHA-256 of the small ones."""
        ...

    def seed(self, files: Iterable[SeedFile], *, now_wall: float) -> None:
        """Write each file (log-like lines) and set its mtime `age_days` before `now_wall`."""
        ...

    def fill_to(self, path: str, share: float) -> int:
        """`fallocate` `path` so usage reaches `share`; returns the bytes allocated."""
        ...

    def remove(self, paths: Iterable[str]) -> int:
        """Delete the files (relative paths); returns the bytes they held."""
        ...

    def truncate(self, path: str) -> int:
        """Truncate a file to zero (`: > file`); returns the bytes it held."""
        ...
