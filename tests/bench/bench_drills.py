"""Drill-suite benchmark: every scenario, one after another, on one fresh sandbox.

- drill_suite_s: wall time of `drills run` with every scenario under scenarios/ (what
  `make drill` does after the sandbox is up), in a temporary project root so the developer's
  own sandbox and reports are left alone. The sandbox runs the upstream control plane; bringing
  it up is not in the figure (that is `sandbox_cold_start_s`). Every drill must PASS; otherwise
  the figure means nothing and the bench fails, naming the drills and their reasons. Each drill's
  measured RTO and RPO are printed beside the figure.
  Target: no slower than 1.2 times the 237 s the suite took on the imitation control plane
  (<= 284.4 s); both are printed with the figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from drills.core.clock import SystemClock
from tests.bench.figures import figure_line
from tests.sandbox.sandbox_root import REPO, sandbox_in_temp_root

CLOCK = SystemClock()
PARTS = ("scenarios", "fixtures/environments", "fixtures/shop")


def _objective(scenario: dict[str, Any], name: str) -> str:
    found = [o for o in scenario["objectives"] if o["name"] == name]
    if not found or found[0]["measured_s"] is None:
        return "-"
    return f"{found[0]['measured_s']:.1f} s"


def _suite(root: Path) -> tuple[float, list[dict[str, Any]]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "drills.cli", "--root", str(root), "run", "--no-sandbox-up"]
    started = CLOCK.now()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    elapsed_s = CLOCK.now() - started
    journal = json.loads((root / "reports" / "latest" / "journal.json").read_text())
    scenarios: list[dict[str, Any]] = journal["scenarios"]
    failed = [s for s in scenarios if s["verdict"] != "PASS"]
    if done.returncode != 0 or failed:
        reasons = "; ".join(f"{s['id']}: {s['verdict']} {s['reason']}" for s in failed)
        raise RuntimeError(f"the drill suite did not pass (exit {done.returncode}): {reasons}")
    return elapsed_s, scenarios


def run() -> dict[str, float]:
    """The suite's wall time on a fresh sandbox, with each drill's RTO and RPO printed."""
    files = {"pyproject.toml": "", "conftest.py": (REPO / "conftest.py").read_text()}
    with sandbox_in_temp_root(PARTS, files=files, prefix="drills-bench-") as root:
        elapsed_s, scenarios = _suite(root)
    for scenario in scenarios:
        rto, rpo = _objective(scenario, "RTO"), _objective(scenario, "RPO")
        print(f"{scenario['id']:24s} {scenario['verdict']:5s} RTO {rto:>9s}  RPO {rpo:>9s}")  # noqa: T201
    print(f"{len(scenarios)} drills passed")  # noqa: T201
    print(figure_line("drill_suite_s", round(elapsed_s, 1)))  # noqa: T201
    return {"drill_suite_s": elapsed_s}


if __name__ == "__main__":
    run()
