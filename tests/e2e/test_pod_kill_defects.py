"""`pod-kill-under-load` end to end through `drills run`: PASS when healthy, FAIL when broken.

One sandbox for the module, in a temporary project root that holds the scenario, the profiles
and the shop fixture. Each test runs the real CLI in a subprocess and reads the run's journal.
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

from tests.sandbox.sandbox_root import sandbox_in_temp_root

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    parts = ("scenarios", "fixtures/environments", "fixtures/shop")
    files = {"pyproject.toml": "", "conftest.py": (REPO / "conftest.py").read_text()}
    with sandbox_in_temp_root(parts, files=files, prefix="drills-e2e-") as root:
        yield root


def _kubectl(root: Path, *args: str) -> None:
    config = ["--kubeconfig", str(root / ".drills" / "sandbox" / "kubeconfig")]
    kubectl = REPO / ".drills" / "bin" / "kubectl"
    if not kubectl.exists():
        pytest.skip("kubectl missing: run `make .drills/bin/kubectl` (make test does)")
    subprocess.run([str(kubectl), *config, *args], check=True, capture_output=True, timeout=30)


def _drill(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "drills.cli", "--root", str(root), "run", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    journal = json.loads((root / "reports" / "latest" / "journal.json").read_text())
    [scenario] = journal["scenarios"]
    return done.returncode, scenario


def _rto(scenario: dict[str, Any]) -> dict[str, Any]:
    [rto] = [o for o in scenario["objectives"] if o["name"] == "RTO"]
    return rto


def test_healthy_sandbox_passes_with_every_figure(project: Path) -> None:
    code, scenario = _drill(project, "pod-kill-under-load")
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    rto = _rto(scenario)
    assert rto["target_s"] == 900.0
    assert 0 < rto["measured_s"] < 900.0
    figures = {f["name"] for f in scenario["figures"]}
    assert {"time to mitigate", "recovered (stable)", "user-side outage"} <= figures


def test_a_tighter_objective_turns_the_pass_into_a_fail(project: Path) -> None:
    code, scenario = _drill(project, "pod-kill-under-load", "--objective", "shop.rto=2s")
    assert (code, scenario["verdict"]) == (1, "FAIL")
    rto = _rto(scenario)
    assert rto["target_s"] == 2.0
    assert rto["measured_s"] > 2.0  # the stability window alone is longer: shown, not hidden
    assert "vs target 2s -> FAIL" in scenario["reason"]


def test_replacements_that_cannot_schedule_fail_the_drill(project: Path) -> None:
    nodes = [f"sandbox-node-{n}" for n in (1, 2, 3)]
    for node in nodes:  # no room anywhere: the ReplicaSet's replacement stays Pending
        _kubectl(project, "cordon", node)
    try:
        code, scenario = _drill(project, "pod-kill-under-load", "--objective", "shop.rto=20s")
    finally:
        for node in nodes:
            _kubectl(project, "uncordon", node)
    assert (code, scenario["verdict"]) == (1, "FAIL")
    rto = _rto(scenario)
    assert rto["measured_s"] >= 20.0
    assert "not recovered after" in rto["detail"]
    assert "2/3 pods ready" in rto["detail"]
    assert scenario["rollbacks"]
    assert all(r["outcome"] == "done" for r in scenario["rollbacks"])
