"""The session's SIGTERM guard and the mirrored rollback ledger."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import FrameType

import pytest

from drills.core.safety import RollbackEntry, RollbackLedger
from drills.pytest_plugin.context import DrillTerminated, MirroredLedger, SigtermGuard


def test_sigterm_becomes_an_exception_then_chains_to_the_previous_handler() -> None:
    seen: list[int] = []

    def previous(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    original = signal.signal(signal.SIGTERM, previous)
    try:
        guard = SigtermGuard()
        guard.install()
        with pytest.raises(DrillTerminated, match="SIGTERM"):
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs as soon as kill returns
        assert seen == []  # not yet: finalizers and rollbacks come first
        guard.uninstall()
        assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is previous
    finally:
        signal.signal(signal.SIGTERM, original)


def test_guard_without_sigterm_just_restores() -> None:
    before = signal.getsignal(signal.SIGTERM)
    guard = SigtermGuard()
    guard.install()
    assert signal.getsignal(signal.SIGTERM) is not before
    guard.uninstall()
    assert signal.getsignal(signal.SIGTERM) == before
    assert not guard.fired


def test_mirrored_ledger_writes_both_files(tmp_path: Path) -> None:
    ledger = MirroredLedger(tmp_path / "persistent.jsonl", tmp_path / "run" / "rollbacks.jsonl")
    ledger.record(RollbackEntry("toy", "a", entry_id="one"))
    ledger.record(RollbackEntry("toy", "b", entry_id="two"))
    ledger.mark_done("one")
    for path in (tmp_path / "persistent.jsonl", tmp_path / "run" / "rollbacks.jsonl"):
        assert [e.entry_id for e in RollbackLedger(path).pending()] == ["two"]
