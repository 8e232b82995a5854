"""The halt lever: the notice it writes, any file halts, the watcher fires once, refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from drills.core.halt import (
    EnvironmentHalted,
    HaltNotice,
    HaltWatcher,
    clear_halt,
    halt_path,
    new_notice,
    pull_halt,
    read_halt,
    refuse_to_start,
)
from drills.core.runlock import EnvironmentBusy, LockHolder, RunLock, lock_path

AT = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)


def test_pulled_lever_reads_back_as_who_where_when_why(tmp_path: Path) -> None:
    path = halt_path(tmp_path, "sandbox", None)
    assert path == tmp_path / ".drills" / "halt" / "sandbox"
    notice = new_notice("alice", "database looks wrong", "sandbox", AT)
    pull_halt(path, notice)
    assert read_halt(path) == notice
    assert notice.describe() == (
        f"halted by alice@{notice.host} at 2026-12-04T21:00:00+00:00: database looks wrong"
    )
    assert clear_halt(path) == notice
    assert read_halt(path) is None
    assert clear_halt(path) is None


def test_any_file_halts_with_its_text_as_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "halt"
    path.parent.mkdir()
    path.write_text("stop  everything\n")
    notice = read_halt(path)
    assert notice is not None
    assert (notice.operator, notice.reason) == ("unknown", "stop everything")
    path.write_text("")
    empty = read_halt(path)
    assert empty is not None
    assert empty.reason == "halt file present"


def test_profile_path_beats_the_default(tmp_path: Path) -> None:
    assert halt_path(tmp_path, "staging", Path("/mnt/ops/halt")) == Path("/mnt/ops/halt")


def test_watcher_fires_once(tmp_path: Path) -> None:
    path = tmp_path / "halt"
    seen: list[HaltNotice] = []
    watcher = HaltWatcher(path, seen.append)
    assert watcher.poll() is None
    pull_halt(path, HaltNotice("bob", "h", "t", "why"))
    assert watcher.poll() == HaltNotice("bob", "h", "t", "why")
    assert watcher.poll() is not None
    assert seen == [HaltNotice("bob", "h", "t", "why")]
    with pytest.raises(ValueError, match="poll_s"):
        HaltWatcher(path, seen.append, poll_s=0)


def test_refuse_to_start_names_the_lever_then_the_holder(tmp_path: Path) -> None:
    refuse_to_start(tmp_path, "sandbox", None)  # free: nothing raised
    pull_halt(halt_path(tmp_path, "sandbox", None), HaltNotice("ops", "h1", "t", "no"))
    with pytest.raises(EnvironmentHalted, match=r"halted by ops@h1 at t: no .*halt --clear"):
        refuse_to_start(tmp_path, "sandbox", None)
    clear_halt(halt_path(tmp_path, "sandbox", None))
    lock = RunLock(lock_path(tmp_path, "sandbox"), "sandbox")
    lock.acquire(LockHolder.of_this_process("sandbox", started_at="t", drills=("d",), command=""))
    try:
        with pytest.raises(EnvironmentBusy, match="drills run d"):
            refuse_to_start(tmp_path, "sandbox", None)
    finally:
        lock.release()
