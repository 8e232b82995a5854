"""The capped volume on a real tmpfs (root only): seeded, filled past 90%, unmounted by replay."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.safety import Replayed, RollbackEntry
from drills.targets.adapters.tmpfs_volume import TmpfsVolume, is_mounted, unmount_volume
from drills.targets.ports.volume import SeedFile

NOW = 1_800_000_000.0


@pytest.fixture
def volume(tmp_path: Path) -> TmpfsVolume:
    found = TmpfsVolume(tmp_path / ".drills" / "disk" / "run", 2 * 1024 * 1024)
    if found.unavailable():
        pytest.skip(f"no tmpfs here: {found.unavailable()}")
    return found


def test_seeded_filled_and_unmounted_by_the_replay(volume: TmpfsVolume) -> None:
    volume.mount()
    try:
        volume.seed([SeedFile("archive/old.log", 4096, 10.0)], now_wall=NOW)
        [entry] = volume.inventory()
        assert (entry.path, entry.size, entry.mtime) == ("archive/old.log", 4096, NOW - 10 * 86400)
        assert entry.sha256 is not None
        volume.fill_to("ballast.img", 0.95)
        assert volume.usage().share > 0.9
        with pytest.raises(OSError, match="No space left"):  # the cap is real: ENOSPC
            (volume.root / "more").write_bytes(b"x" * 512 * 1024)
        assert volume.remove(["ballast.img"]) > 0
    finally:
        replay = RollbackEntry("capped-volume", str(volume.root), {})
        assert unmount_volume(replay) is Replayed.RESTORED
    assert not is_mounted(volume.root)
    assert not volume.root.exists()
    assert unmount_volume(replay) is Replayed.ALREADY


def test_the_replay_refuses_a_mount_point_outside_a_state_directory() -> None:
    with pytest.raises(ConfigError, match="refusing to unmount"):
        unmount_volume(RollbackEntry("capped-volume", "/mnt", {}))
    assert os.path.ismount("/proc")  # nothing was touched
