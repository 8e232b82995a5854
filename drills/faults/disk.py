"""The disk-full faults of RUNBOOKS.md §3.15 and the capped volume they need.

- `MountCappedVolume` (a preparation, not a fault): mount the size-capped volume and seed it as a
  live log volume is found: logs from 10 and 9 days ago, from 3 days ago and today, a temp file
  and a small state file. Its rollback unmounts it, so nothing written there outlives the drill.
- `Ballast`: `fallocate` a file so that usage passes the critical line (90% [003]). Its
  rollback deletes the file (the built-in `restore-file` kind, replayable).

The runaway-log variant's fault is a release (`drills.faults.pods.BadSettings` with
LOG_LEVEL=DEBUG): every request then writes a large line to the volume.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from drills.core.errors import InjectionFailed
from drills.core.safety import RollbackEntry
from drills.faults.registry import restore_file_entry
from drills.targets.ports.volume import CappedVolume, SeedFile

__all__ = ["CAPPED_VOLUME_KIND", "Ballast", "MountCappedVolume"]

CAPPED_VOLUME_KIND = "capped-volume"  # = drills.targets.adapters.tmpfs_volume.CAPPED_VOLUME_KIND


@dataclass
class MountCappedVolume:
    """Mount `volume`, then seed it with `seeds` (ages against `now_wall()`).

    `before_unmount` runs first in the rollback: the fixture waits there until no pod of the
    shop writes to the volume any more (its release without LOG_DIR rolled out), so the
    unmount is a plain one; a straggler only makes it lazy.
    """

    volume: CappedVolume
    seeds: Sequence[SeedFile]
    now_wall: Callable[[], float]
    before_unmount: Callable[[], None] = lambda: None
    kind: str = CAPPED_VOLUME_KIND
    _mounted: bool = field(default=False, init=False)

    @property
    def target(self) -> str:
        """The mount point."""
        return str(self.volume.root)

    def describe(self) -> str:
        """One line for the plan."""
        mib = self.volume.size_bytes / (1024 * 1024)
        return f"mount a {mib:g} MiB tmpfs at {self.target} and seed {len(self.seeds)} files"

    def rollback_entry(self) -> RollbackEntry:
        """Unmount the mount point (kind `capped-volume`)."""
        return RollbackEntry(self.kind, self.target, {"size": str(self.volume.size_bytes)})

    def apply(self) -> None:
        """Mount, then seed."""
        self.volume.mount()
        self._mounted = True
        self.volume.seed(self.seeds, now_wall=self.now_wall())

    def rollback(self) -> None:
        """Let the writers go, then unmount; idempotent."""
        if self._mounted:
            self.before_unmount()
        self.volume.unmount()
        self._mounted = False


@dataclass
class Ballast:
    """`fallocate -l <size> <volume>/<path>` sized so usage reaches `share` (past 90%)."""

    volume: CappedVolume
    path: str
    share: float
    kind: str = "restore-file"
    allocated: int = field(default=0, init=False)

    @property
    def target(self) -> str:
        """The ballast file."""
        return str(self.volume.root / self.path)

    def describe(self) -> str:
        """One line for the plan."""
        return f"fallocate {self.target} until the volume is {self.share:.0%} used"

    def rollback_entry(self) -> RollbackEntry:
        """Delete the ballast (the file did not exist before)."""
        return restore_file_entry(self.volume.root / self.path, None)

    def apply(self) -> None:
        """Allocate the ballast; refuses when the volume is already past the share."""
        if self.volume.usage().share >= self.share:
            raise InjectionFailed(f"{self.volume.root} is already {self.share:.0%} used")
        self.allocated = self.volume.fill_to(self.path, self.share)

    def rollback(self) -> None:
        """Delete the ballast unless the cleanup already did."""
        self.volume.remove([self.path])
