"""A size-capped tmpfs as the shop's log volume (RUNBOOKS.md §3.15), and its `drills rollback`.

`mount -t tmpfs -o size=N` under the project's state directory (`.drills/disk/<run>`): a real
filesystem with a real cap, where a write past it fails with ENOSPC as on a full disk, which
disappears whole when unmounted, so no file of the host is ever at risk. Mounting needs root
(CAP_SYS_ADMIN) and tmpfs in /proc/filesystems; without either the drill reports
COULD_NOT_VERIFY with the reason. The sandbox's process pods share the host's mount namespace,
so a directory mounted here is what a hostPath volume would give a container.

The rollback kind `capped-volume` unmounts (lazily when a process still holds a file there:
a terminating pod) and removes the mount point; replaying it after a SIGKILL does the same.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from drills.core.disk import SMALL_FILE_BYTES, FileEntry
from drills.core.errors import ConfigError, DrillError
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.targets.ports.volume import SeedFile, VolumeUsage

__all__ = ["CAPPED_VOLUME_KIND", "TmpfsVolume", "register_rollbacks", "unmount_volume"]

CAPPED_VOLUME_KIND = "capped-volume"  # = drills.faults.disk.MountCappedVolume.kind
STATE_PART = ".drills"  # a replayed entry only unmounts below a project's state directory
_BLOCK = 4096


class TmpfsVolume:
    """The CappedVolume port on a tmpfs of `size_bytes` at `root`."""

    def __init__(self, root: Path, size_bytes: int) -> None:
        self.root, self.size_bytes = root, size_bytes

    # -- the mount ------------------------------------------------------------------------------
    def unavailable(self) -> str | None:
        """Why no tmpfs can be mounted here, or None."""
        if os.geteuid() != 0:
            return (
                f"mounting a size-capped tmpfs needs root (CAP_SYS_ADMIN); this runs as uid "
                f"{os.geteuid()}"
            )
        if shutil.which("mount") is None or shutil.which("umount") is None:
            return "mount(8)/umount(8) are not installed (util-linux)"
        filesystems = Path("/proc/filesystems")
        if filesystems.exists() and "tmpfs" not in filesystems.read_text():
            return "the kernel offers no tmpfs (/proc/filesystems)"
        return None

    def mount(self) -> None:
        """Mount the tmpfs at `root` (mode 0755)."""
        if is_mounted(self.root):
            raise DrillError(f"something is already mounted at {self.root}")
        self.root.mkdir(parents=True, exist_ok=True)
        options = f"size={self.size_bytes},mode=0755"
        _run(["mount", "-t", "tmpfs", "-o", options, "drills-disk", str(self.root)])

    def unmount(self) -> bool:
        """Unmount (lazily when busy) and remove the mount point; False: was not mounted."""
        return unmount_path(self.root)

    # -- reading --------------------------------------------------------------------------------
    def usage(self) -> VolumeUsage:
        """The statvfs of the mount: what `df` prints."""
        stat = os.statvfs(self.root)
        total = stat.f_blocks * stat.f_frsize
        return VolumeUsage(used=total - stat.f_bfree * stat.f_frsize, total=total)

    def biggest(self) -> list[tuple[str, int]]:
        """Allocated bytes of each top-level entry, smallest first (`du -sh * | sort -h`)."""
        sizes = [(child.name, _du(child)) for child in self.root.iterdir()]
        return sorted(sizes, key=lambda item: (item[1], item[0]))

    def inventory(self) -> list[FileEntry]:
        """Every regular file: relative path, size, mtime, SHA-256 when up to 1 MiB."""
        found = []
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            stat = path.stat()
            digest = None
            if stat.st_size <= SMALL_FILE_BYTES:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            relative = str(path.relative_to(self.root))
            found.append(FileEntry(relative, stat.st_size, stat.st_mtime, digest))
        return found

    # -- writing --------------------------------------------------------------------------------
    def seed(self, files: Iterable[SeedFile], *, now_wall: float) -> None:
        """Write each file with access-log-like lines, then set its mtime back."""
        for seed in files:
            path = self._inside(seed.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            at = now_wall - seed.age_days * 86400.0
            path.write_bytes(_log_lines(seed.path, seed.size, at))
            os.utime(path, (at, at))

    def fill_to(self, path: str, share: float) -> int:
        """posix_fallocate a file so that usage reaches `share` of the volume."""
        usage = self.usage()
        wanted = int(usage.total * share) - usage.used
        size = max(_BLOCK, wanted - wanted % _BLOCK)
        target = self._inside(path)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.posix_fallocate(fd, 0, size)
        finally:
            os.close(fd)
        return size

    def remove(self, paths: Iterable[str]) -> int:
        """Delete each file; the bytes they held."""
        freed = 0
        for relative in paths:
            path = self._inside(relative)
            if path.is_file():
                freed += path.stat().st_size
                path.unlink()
        return freed

    def truncate(self, path: str) -> int:
        """Truncate one file to zero bytes; the bytes it held."""
        target = self._inside(path)
        held = target.stat().st_size
        os.truncate(target, 0)
        return held

    def _inside(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if self.root.resolve() not in path.parents:
            raise DrillError(f"{relative!r} is not inside the volume {self.root}")
        return path


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_blocks * 512
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def _log_lines(name: str, size: int, at: float) -> bytes:
    """`size` bytes of access lines stamped around `at` (content differs per file)."""
    day = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    lines, n = [], 0
    total = 0
    while total < size:
        line = f"{day} GET /orders/seed-{name}-{n} 200 3.{n % 10}ms\n"
        lines.append(line)
        total += len(line)
        n += 1
    return "".join(lines).encode()[:size]


def is_mounted(path: Path) -> bool:
    """Whether a filesystem is mounted exactly at `path` (/proc/self/mountinfo)."""
    wanted = str(path.resolve()) if path.exists() else str(path)
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == wanted:
            return True
    return False


def unmount_path(root: Path) -> bool:
    """Unmount `root` (`umount --lazy` when busy), then remove the mount point's leftovers."""
    was = is_mounted(root)
    if was:
        done = subprocess.run(["umount", str(root)], capture_output=True, text=True, check=False)
        if done.returncode != 0 and is_mounted(root):
            _run(["umount", "--lazy", str(root)])
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)  # a pod may have written below the bare point
    return was


def unmount_volume(entry: RollbackEntry) -> Replayed:
    """Replay `capped-volume`: unmount the recorded mount point if it is still mounted."""
    root = Path(entry.target)
    if STATE_PART not in root.parts:
        raise ConfigError(
            f"the {entry.kind} entry names {root}, outside a project's {STATE_PART}/ directory: "
            "refusing to unmount it; check it and `umount` it by hand"
        )
    return Replayed.RESTORED if unmount_path(root) else Replayed.ALREADY


def register_rollbacks(registry: RollbackRegistry) -> None:
    """Register `capped-volume` (called by data_rollbacks' registrar)."""
    registry.register(CAPPED_VOLUME_KIND, unmount_volume)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DrillError(f"{' '.join(command)} failed: {(done.stderr or done.stdout).strip()}")
