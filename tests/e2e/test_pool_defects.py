"""`db-pool-exhaustion` end to end through `drills run`: PASS when healthy, FAIL when broken.

One sandbox for the module, in a temporary project root that holds the scenarios, the profiles
and the shop fixture. Each test runs the real CLI in a subprocess and reads the run's journal.
The defect "the pool leak is not released" is made with the leaker's documented defect switch
(`DRILLS_POOL_LEAK_DEFECT=busy` in fixtures/pool.py): the leaked sessions are kept busy, so the
runbook's idle rule never matches them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.pool import DEFECT_BUSY, DEFECT_ENV
from tests.sandbox.sandbox_root import sandbox_in_temp_root

REPO = Path(__file__).resolve().parents[2]
DRILL = "db-pool-exhaustion"
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    parts = ("scenarios", "fixtures/environments", "fixtures/shop")
    files = {"pyproject.toml": "", "conftest.py": (REPO / "conftest.py").read_text()}
    with sandbox_in_temp_root(parts, files=files, prefix="drills-e2e-pool-") as root:
        yield root


def _drill(root: Path, *args: str, defect: str = "") -> tuple[int, dict[str, Any], str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(DEFECT_ENV, None)
    if defect:
        env[DEFECT_ENV] = defect
    command = [sys.executable, "-m", "drills.cli", "--root", str(root), "run", DRILL, *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    journal = json.loads((root / "reports" / "latest" / "journal.json").read_text())
    [scenario] = journal["scenarios"]
    return done.returncode, scenario, done.stdout + done.stderr


def _objective(scenario: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [o for o in scenario["objectives"] if o["name"] == name]
    return found


def _figures(scenario: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in scenario["figures"]}


def _no_leak_left(scenario: dict[str, Any]) -> None:
    assert scenario["rollbacks"], "the leak's rollback must be recorded"
    assert all(r["outcome"] == "done" for r in scenario["rollbacks"])


def test_healthy_sandbox_passes_with_the_runbook_figures(project: Path) -> None:
    code, scenario, output = _drill(project)
    assert (code, scenario["verdict"]) == (0, "PASS"), f"{scenario['reason']}\n{output[-3000:]}"
    rto = _objective(scenario, "RTO")
    assert rto["target_s"] == 900.0
    assert 0 < rto["measured_s"] < 900.0
    assert _objective(scenario, "RPO")["measured_s"] == 0.0
    figures = _figures(scenario)
    assert figures["time to saturation"]["value"] > 0
    assert figures["time to detect"]["value"] is not None
    assert figures["sessions terminated"]["value"] >= 1
    assert "drills-leak-" in figures["sessions terminated"]["detail"]
    assert figures["active sessions terminated"]["value"] == 0
    assert figures["free connection slots"]["value"] >= figures["free connection slots"]["target"]
    assert figures["acknowledged writes lost"]["value"] == 0
    steps = [s["name"] for s in scenario["steps"]]
    assert any(s.startswith("Terminate idle backends") for s in steps)
    assert all(s["outcome"] == "ok" for s in scenario["steps"])
    _no_leak_left(scenario)


def test_a_tighter_objective_turns_the_pass_into_a_fail(project: Path) -> None:
    code, scenario, output = _drill(project, "--objective", "shop.rto=1s")
    assert (code, scenario["verdict"]) == (1, "FAIL"), output[-3000:]
    rto = _objective(scenario, "RTO")
    assert rto["target_s"] == 1.0
    assert rto["measured_s"] > 1.0  # the rule's age alone is longer: shown, not hidden
    assert f"{rto['measured_s']:.1f} s" in rto["detail"]
    assert "vs target 1s -> FAIL" in scenario["reason"]
    _no_leak_left(scenario)


def test_a_leak_the_idle_rule_cannot_match_fails_because_the_pool_never_drains(
    project: Path,
) -> None:
    code, scenario, output = _drill(project, "--objective", "shop.rto=15s", defect=DEFECT_BUSY)
    assert (code, scenario["verdict"]) == (1, "FAIL"), output[-3000:]
    rto = _objective(scenario, "RTO")
    assert rto["measured_s"] >= 15.0
    assert "not recovered after" in rto["detail"]
    assert "the pool never drained" in rto["detail"]
    assert "new connections refused" in rto["detail"]
    assert "the pool never drained" in scenario["reason"]
    figures = _figures(scenario)
    assert "drills-leak-" not in figures["sessions terminated"]["detail"]
    _no_leak_left(scenario)
