"""Replaying a load spike's rollback stops only the Locust processes the entry names."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from drills.core.safety import RollbackEntry
from drills.faults.registry import default_registry
from drills.load.spike_rollback import LOAD_SPIKE_KIND, stop_spike_users


def _proc(tmp_path: Path, commands: dict[int, bytes]) -> Path:
    for pid, command in commands.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(command)
    return tmp_path


def test_only_live_locust_processes_get_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = _proc(tmp_path, {101: b"python\0-m\0locust\0-f\0shop.py", 102: b"postgres\0-D\0x"})
    killed: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append((pid, sig)))
    entry = RollbackEntry(LOAD_SPIKE_KIND, "traffic/shop", {"locust_pids": "101,102,103"})
    assert stop_spike_users(entry, proc=proc) == [101]  # 102 is reused, 103 is gone
    assert killed == [(101, signal.SIGTERM)]


def test_an_entry_without_pids_does_nothing(tmp_path: Path) -> None:
    entry = RollbackEntry(LOAD_SPIKE_KIND, "traffic/shop", {"peak_users": 60})
    assert stop_spike_users(entry, proc=tmp_path) == []


def test_drills_rollback_knows_the_kind() -> None:
    assert LOAD_SPIKE_KIND in default_registry().kinds()
