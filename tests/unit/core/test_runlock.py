"""The run lock: one holder per environment, a refusal naming it, stale bodies taken over."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from drills.core.runlock import EnvironmentBusy, LockHolder, RunLock, lock_path, process_identity


def _holder(drills: tuple[str, ...] = ("pod-kill-under-load",)) -> LockHolder:
    return LockHolder.of_this_process(
        "sandbox", started_at="2026-12-04T21:00:00+00:00", drills=drills, command="drills run"
    )


def _lock(tmp_path: Path) -> RunLock:
    return RunLock(lock_path(tmp_path, "sandbox"), "sandbox")


def test_second_holder_is_refused_with_pid_start_and_drill(tmp_path: Path) -> None:
    first, second = _lock(tmp_path), _lock(tmp_path)
    first.acquire(_holder())
    try:
        with pytest.raises(EnvironmentBusy) as refused:
            second.acquire(_holder(("other",)))
        assert str(refused.value) == (
            f"environment 'sandbox' is in use by pid {os.getpid()} (drills run "
            f"pod-kill-under-load, started 2026-12-04T21:00:00+00:00 on host {_holder().host}); "
            "wait for it or stop it with `drills halt --env sandbox`"
        )
        assert second.holder() == _holder()
        assert not second.held
    finally:
        first.release()
    second.acquire(_holder(("other",)))
    assert _lock(tmp_path).holder() == _holder(("other",))
    second.release()
    assert second.path.read_text() == ""
    assert second.holder() is None


def test_lock_lives_under_drills_locks_with_a_safe_name(tmp_path: Path) -> None:
    assert lock_path(tmp_path, "stag/ing") == tmp_path / ".drills" / "locks" / "stag_ing.lock"


def _write_body(lock: RunLock, holder: LockHolder) -> None:
    lock.path.parent.mkdir(parents=True, exist_ok=True)
    lock.path.write_text(holder.to_json())


def test_body_of_a_dead_pid_is_taken_over(tmp_path: Path) -> None:
    lock = _lock(tmp_path)
    _write_body(lock, replace(_holder(), pid=2**22 + 12345))  # above pid_max: never alive
    assert lock.holder() is None
    lock.acquire(_holder())
    assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    lock.release()


def test_body_of_a_reused_pid_is_taken_over(tmp_path: Path) -> None:
    lock = _lock(tmp_path)
    boot, start = process_identity(os.getppid())
    _write_body(lock, replace(_holder(), pid=os.getppid(), boot_id=boot, proc_start=start + "0"))
    assert lock.holder() is None  # alive, but not the process that wrote the body
    lock.acquire(_holder())
    lock.release()


def test_body_from_an_earlier_boot_is_taken_over(tmp_path: Path) -> None:
    lock = _lock(tmp_path)
    _, start = process_identity(os.getppid())
    _write_body(lock, replace(_holder(), pid=os.getppid(), boot_id="earlier", proc_start=start))
    assert lock.holder() is None
    lock.acquire(_holder())
    lock.release()


def test_free_flock_but_live_writer_is_refused(tmp_path: Path) -> None:
    """The writer still runs yet holds no flock: flock is not honoured here; never take over."""
    lock = _lock(tmp_path)
    boot, start = process_identity(os.getppid())
    live = replace(_holder(), pid=os.getppid(), boot_id=boot, proc_start=start)
    _write_body(lock, live)
    with pytest.raises(EnvironmentBusy, match=r"holds no lock on .* delete that file"):
        lock.acquire(_holder())
    assert lock.holder() == live
    assert json.loads(lock.path.read_text())["pid"] == os.getppid()  # left as it was


def test_body_of_another_host_is_not_checked_here(tmp_path: Path) -> None:
    lock = _lock(tmp_path)
    _write_body(lock, replace(_holder(), pid=os.getppid(), host="elsewhere"))
    assert lock.holder() is None  # its flock is free: on this filesystem it holds nothing


def test_garbled_body_is_treated_as_empty(tmp_path: Path) -> None:
    lock = _lock(tmp_path)
    lock.path.parent.mkdir(parents=True)
    lock.path.write_text("{torn")
    assert lock.holder() is None
    lock.acquire(_holder())
    lock.release()
