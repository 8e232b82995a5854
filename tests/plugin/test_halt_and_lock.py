"""One run per environment, and the halt lever, with real `drills` processes (no sandbox).

The toy project's `toy-wait` drill flips a local file down and waits for a recovery that never
comes; the tests pull `drills halt` or start a second run while it waits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drills.cli import main as drills_main
from drills.core.clock import SystemClock
from drills.core.halt import HaltNotice, halt_path, pull_halt
from drills.core.runlock import LockHolder, RunLock, lock_path
from drills.core.safety import RollbackLedger
from drills.core.waiting import wait_until
from tests.plugin.conftest import ToyProject, toy_cli_project

HALT_CONTRACT_S = 5.0  # issue 16: halted drills have rolled back within 5 s
CLOCK = SystemClock()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return toy_cli_project(tmp_path, ("waiting_drills.py", "test_waiting.py"))


def drills_cmd(project: Path, *args: str) -> list[str]:
    if args[:1] == ("run",):  # toy drills need no sandbox; keep file order
        args = ("run", "--no-sandbox-up", *args[1:], "--", "-p", "no:randomly")
    return [sys.executable, "-m", "drills.cli", "--root", str(project), *args]


def drills(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        drills_cmd(project, *args),
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def waiting_run(project: Path) -> Iterator[subprocess.Popen[str]]:
    """`drills run toy-wait toy-after` in the background, once its fault is in place."""
    child = subprocess.Popen(
        drills_cmd(project, "run", "toy-wait", "toy-after"),
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        flag = project / "wait.flag"
        waited = wait_until(
            lambda: child.poll() is not None or (flag.exists() and flag.read_text() == "down"),
            clock=CLOCK,
            timeout_s=60,
            poll_s=0.05,
            description="the first run injected its fault",
        )
        assert waited.met
        assert child.poll() is None, child.communicate()[0]
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=60)


def _done_in_ledger(project: Path) -> bool:
    ledger = project / ".drills" / "rollbacks.jsonl"
    lines = [json.loads(line) for line in ledger.read_text().splitlines() if line.strip()]
    return any(line["state"] == "done" for line in lines)


def test_halt_rolls_the_drill_back_within_5_s(
    project: Path, waiting_run: subprocess.Popen[str]
) -> None:
    started = CLOCK.now()
    assert drills_main(["--root", str(project), "halt", "--reason", "lever test"]) == 0
    rolled_back = wait_until(
        lambda: _done_in_ledger(project),
        clock=CLOCK,
        timeout_s=30,
        poll_s=0.02,
        description="the halted drill's rollback is done in the ledger",
    )
    elapsed_s = CLOCK.now() - started
    out, _ = waiting_run.communicate(timeout=60)
    assert rolled_back.met
    assert elapsed_s <= HALT_CONTRACT_S, f"halt to rollback done took {elapsed_s:.2f} s"
    print(f"halt -> rollback done: {elapsed_s:.3f} s")  # noqa: T201 - the measured figure
    assert waiting_run.returncode == 1, out
    assert (project / "wait.flag").read_text() == "up"
    assert (project / "wait.rolled-back").exists()
    assert RollbackLedger(project / ".drills" / "rollbacks.jsonl").pending() == []
    journal = json.loads((project / "reports" / "latest" / "journal.json").read_text())
    [record] = journal["scenarios"]  # toy-after was never started
    assert record["id"] == "toy-wait"
    assert record["verdict"] == "ERROR"
    assert "halted by" in record["reason"]
    assert "lever test" in record["reason"]
    assert not (project / "after.flag").exists()
    assert "not started: toy-after" in " ".join(out.split())


def refused_run(project: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """`drills run toy-pass` in this process (it is refused before pytest starts): its output."""
    capsys.readouterr()
    assert drills_main(["--root", str(project), "run", "--no-sandbox-up", "toy-pass"]) == 2
    return " ".join(capsys.readouterr().out.split())


def test_run_refuses_while_halted_and_runs_once_cleared(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert drills_main(["--root", str(project), "halt", "--operator", "ops"]) == 0
    refused = refused_run(project, capsys)
    assert "environment 'sandbox' is halted: halted by ops@" in refused
    assert "drills halt --clear --env sandbox" in refused
    assert not (project / "pass.flag").exists()
    assert drills_main(["--root", str(project), "halt", "--clear"]) == 0
    assert drills(project, "run", "toy-pass").returncode == 0


def test_second_run_is_refused_naming_the_holder(
    project: Path, waiting_run: subprocess.Popen[str], capsys: pytest.CaptureFixture[str]
) -> None:
    text = refused_run(project, capsys)
    assert f"environment 'sandbox' is in use by pid {waiting_run.pid}" in text
    assert "drills run toy-wait toy-after, started 20" in text
    assert "drills halt --env sandbox" in text
    assert not (project / "pass.flag").exists()


def test_a_killed_runs_lock_is_taken_over(
    project: Path, waiting_run: subprocess.Popen[str]
) -> None:
    os.kill(waiting_run.pid, signal.SIGKILL)
    waiting_run.communicate(timeout=60)
    lock = RunLock(lock_path(project, "sandbox"), "sandbox")
    body = LockHolder.from_json(lock.path.read_text(), "sandbox")
    assert body is not None
    assert body.pid == waiting_run.pid  # the dead run's body is still there
    assert lock.holder() is None  # ... but its flock died with it
    assert drills(project, "rollback").returncode == 0  # its fault was still in place
    done = drills(project, "run", "toy-pass")
    assert done.returncode == 0, done.stdout + done.stderr
    assert lock.path.read_text() == ""  # released by the run that took it over


def test_pytest_session_refuses_a_held_lock_and_a_pulled_lever(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    held = RunLock(lock_path(toy.path, "sandbox"), "sandbox")
    held.acquire(LockHolder.of_this_process("sandbox", started_at="t0", drills=("x",), command=""))
    try:
        result = toy.pytester.runpytest("--drill-report-dir=out", "-k", "passes")
    finally:
        held.release()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*environment 'sandbox' is in use by pid*drills run x*"])
    assert not (toy.path / "pass.flag").exists()

    lever = halt_path(toy.path, "sandbox", None)
    pull_halt(lever, HaltNotice("ops", "h1", "2026-12-04T21:00:00+00:00", "db looks wrong"))
    result = toy.pytester.runpytest("--drill-report-dir=out", "-k", "passes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*halted by ops@h1 at 2026-12-04T21:00:00+00:00: db looks wrong*"])
    dry = toy.pytester.runpytest("--drill-report-dir=out", "--drill-dry-run", "-k", "passes")
    dry.assert_outcomes(skipped=1)  # a dry run acts on nothing: neither lock nor lever stop it
