"""A load generator that dies mid-drill ends the drill ERROR naming it (issue 12, item 10).

The drill modules' shared sandbox (tests/e2e/conftest.py). The test runs `drills run
pod-kill-under-load` as a user would, waits until the fault's rollback is on disk (the drill is
injecting), then SIGKILLs every Locust process the run started (they are descendants of the CLI
process). Without the liveness check the silence read as a healthy recovery or an outage; now
the drill must end ERROR, say the load generator died and how, and still run its rollbacks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from tests.e2e.drill_cli import REPO

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

CLOCK = SystemClock()


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process, from /proc (Linux)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    return parents


def _command(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def _locusts(cli_pid: int) -> list[int]:
    """The Locust processes among the CLI's descendants (`python -m locust ...`)."""
    parents, tree, found = _parents(), {cli_pid}, []
    for _ in range(10):  # depth: CLI -> pytest -> Locust, with room to spare
        tree |= {pid for pid, parent in parents.items() if parent in tree}
    for pid in sorted(tree - {cli_pid}):
        command = _command(pid)
        if "-m" in command and "locust" in command:
            found.append(pid)
    return found


def _ledger_lines(root: Path) -> int:
    ledger = root / ".drills" / "rollbacks.jsonl"
    return len(ledger.read_text().splitlines()) if ledger.exists() else 0


def test_locust_killed_mid_drill_ends_error_naming_the_load_generator(project: Path) -> None:
    before = _ledger_lines(project)
    command = [sys.executable, "-m", "drills.cli", "--root", str(project), "run"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        [*command, "pod-kill-under-load"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as cli:
        try:
            wait_until(
                lambda: _ledger_lines(project) > before or cli.poll() is not None,
                clock=CLOCK,
                timeout_s=180,
                poll_s=0.1,
                description="the drill to record its fault's rollback",
            )
            assert cli.poll() is None, "the drill ended before injecting its fault"
            killed = _locusts(cli.pid)
            assert killed, "no Locust process under the drill"
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
            output, _ = cli.communicate(timeout=300)
        finally:
            if cli.poll() is None:
                cli.kill()
    journal = json.loads((project / "reports" / "latest" / "journal.json").read_text())
    [scenario] = journal["scenarios"]
    assert cli.returncode != 0, output
    assert scenario["verdict"] == "ERROR", scenario["reason"]
    reason = scenario["reason"]
    assert "the load generator died" in reason
    assert "killed by SIGKILL" in reason
    assert any(f"pid {pid}" in reason for pid in killed)
    assert scenario["rollbacks"]
    assert all(r["outcome"] == "done" for r in scenario["rollbacks"])
