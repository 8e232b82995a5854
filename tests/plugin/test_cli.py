"""The `drills` command against a toy project: exit codes, evidence, and crash recovery."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drills.core.safety import RollbackLedger
from tests.plugin.conftest import EXAMPLES, toy_cli_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project laid out like this repository, with toy drills as its scenarios."""
    return toy_cli_project(tmp_path)


def drills(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if args[:1] == ("run",):
        args = ("run", "--no-sandbox-up", *args[1:])  # toy drills need no sandbox
    command = [sys.executable, "-m", "drills.cli", "--root", str(project), *args]
    return subprocess.run(
        command, cwd=project, capture_output=True, text=True, timeout=120, check=False
    )


def test_run_exits_non_zero_unless_every_drill_passed(project: Path) -> None:
    done = drills(project, "run")
    assert done.returncode == 1, done.stdout + done.stderr
    latest = project / "reports" / "latest"
    assert latest.is_symlink()
    journal = json.loads((latest / "journal.json").read_text())
    assert {s["id"]: s["verdict"] for s in journal["scenarios"]} == {
        "toy-pass": "PASS",
        "toy-slow": "FAIL",
        "toy-unknown": "COULD_NOT_VERIFY",
    }
    assert (latest / "junit.xml").exists()
    assert (latest / "allure-results").is_dir()
    assert "▶" in done.stdout
    assert "Wait for recovery" in done.stdout  # steps are shown as they finish
    assert "COULD_NOT_VERIFY" in done.stdout


def test_run_of_passing_drill_exits_zero(project: Path) -> None:
    done = drills(project, "run", "toy-pass")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout


def test_objective_override_from_the_cli(project: Path) -> None:
    done = drills(project, "run", "toy-pass", "--objective", "shop.rto=20s")
    assert done.returncode == 1
    assert "measured 30.0s vs target 20.0s" in done.stdout


def test_unknown_id_is_a_clear_error(project: Path) -> None:
    done = drills(project, "run", "no-such-drill")
    assert done.returncode == 2
    assert "unknown drill id(s): no-such-drill; known: toy-pass, toy-slow, toy-unknown" in (
        done.stdout + done.stderr
    )


def test_dry_run_exits_zero_and_acts_on_nothing(project: Path) -> None:
    done = drills(project, "run", "--dry-run", "toy-pass", "toy-slow")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "would inject" in done.stdout
    assert not (project / "pass.flag").exists()


def test_list_shows_runbook_service_and_objectives(project: Path) -> None:
    done = drills(project, "list")
    assert done.returncode == 0, done.stdout + done.stderr
    for text in ("toy-pass", "§9.1", "shop", "P1", "15m", "5m", "toy-slow", "15.0s"):
        assert text in done.stdout


def test_list_of_this_repository_shows_every_scenario_module() -> None:
    """The real project (its pyproject's addopts included), one row per scenarios/test_<id>.py."""
    repo = Path(__file__).resolve().parents[2]
    done = drills(repo, "list")
    assert done.returncode == 0, done.stdout + done.stderr
    ids = [p.stem.removeprefix("test_").replace("_", "-") for p in repo.glob("scenarios/test_*.py")]
    assert "pod-kill-under-load" in ids
    for drill_id in ids:
        assert f" {drill_id} " in done.stdout


def test_without_scenarios_run_says_what_is_missing(project: Path) -> None:
    shutil.rmtree(project / "scenarios")
    done = drills(project, "run")
    assert done.returncode == 3
    assert "No drills yet" in done.stdout
    assert drills(project, "list").returncode == 0


def test_ledger_survives_sigkill_and_rollback_replays_it(project: Path) -> None:
    shutil.copy(EXAMPLES / "hanging_drill.py", project / "scenarios" / "test_hang.py")
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", "scenarios/test_hang.py"],
        cwd=project,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert any("READY" in line for line in iter(child.stdout.readline, ""))
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.communicate(timeout=30)
    flag = project / "hang.flag"
    assert flag.read_text() == "down"  # killed: the fault is still in place
    ledger = RollbackLedger(project / ".drills" / "rollbacks.jsonl")
    assert [e.kind for e in ledger.pending()] == ["restore-file"]

    done = drills(project, "rollback")
    assert done.returncode == 0, done.stdout + done.stderr
    assert " restore-file " in done.stdout
    assert ": restored" in done.stdout
    assert flag.read_text() == "up"
    assert ledger.pending() == []
    assert "nothing to roll back" in drills(project, "rollback").stdout


def test_run_refuses_while_rollbacks_are_pending(project: Path) -> None:
    from drills.core.safety import RollbackEntry

    RollbackLedger(project / ".drills" / "rollbacks.jsonl").record(RollbackEntry("toy", "x"))
    done = drills(project, "run", "toy-pass")
    assert done.returncode == 2
    out = " ".join(done.stdout.split())
    assert "Run `drills rollback` to replay them" in out
    assert "drills rollback --discard ID --reason TEXT" in out
    assert drills(project, "run", "--dry-run", "toy-pass").returncode == 0


def test_rollback_of_unknown_kind_fails_and_stays_pending(project: Path) -> None:
    from drills.core.safety import RollbackEntry

    ledger = RollbackLedger(project / ".drills" / "rollbacks.jsonl")
    ledger.record(RollbackEntry("teleport", "moon"))
    done = drills(project, "rollback")
    assert done.returncode == 1
    assert "no rollback registered for kind 'teleport'" in done.stdout
    assert len(ledger.pending()) == 1
