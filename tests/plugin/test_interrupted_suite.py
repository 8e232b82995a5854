"""An interrupted test run tears its sandboxes down: SIGINT and SIGTERM reach `finally`.

The drills plugin turns SIGTERM into `DrillTerminated` (a KeyboardInterrupt) for every pytest
session, the harness's own test suite included, so `sandbox_in_temp_root`'s `finally` runs as
it does on Ctrl-C. The stand-in sandbox here is a child process and a marker file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from tests.interrupts import default_sigint

_SUITE = """
import os, select, subprocess, sys
from contextlib import contextmanager
from pathlib import Path
import pytest

MARKS = Path(os.environ["MARKS"])

@contextmanager
def fake_sandbox():
    child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    (MARKS / "pid").write_text(str(child.pid))
    try:
        yield
    finally:
        child.terminate()
        child.wait()
        (MARKS / "down").write_text("torn down")

@pytest.fixture(scope="session")
def sandbox():
    with fake_sandbox():
        yield

def test_runs_until_interrupted(sandbox):
    (MARKS / "running").write_text("")
    select.select([], [], [], 60)  # the signal interrupts this wait
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_tears_its_sandbox_down(tmp_path: Path, signum: signal.Signals) -> None:
    (tmp_path / "test_suite.py").write_text(_SUITE)
    marks = tmp_path / "marks"
    marks.mkdir()
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env={**os.environ, "MARKS": str(marks)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=default_sigint,  # as a terminal's Ctrl-C, even when this run ignores SIGINT
    )
    try:
        started = wait_until(
            lambda: (marks / "running").exists() or run.poll() is not None,
            clock=SystemClock(),
            timeout_s=60,
            poll_s=0.05,
            description="the inner test is running",
        )
        assert started.met
        assert run.poll() is None
        run.send_signal(signum)
        output, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    child = int((marks / "pid").read_text())
    leftover = _alive(child)
    if leftover:
        os.kill(child, signal.SIGKILL)
    assert (marks / "down").read_text() == "torn down", output
    assert not leftover, output
    assert run.returncode != 0
