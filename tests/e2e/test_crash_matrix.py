"""The crash matrix in small (the whole one is `make bench`, tests/bench/bench_crash_matrix.py).

One drill, `crashloop-rollback`, on the drill modules' shared sandbox: a clean run, then the
harness killed with SIGINT as one step starts, SIGTERM as another starts, and SIGKILL right
after the bad release's rollback is recorded and right after the release went out. SIGINT and
SIGTERM must leave nothing pending; after SIGKILL one `drills rollback` must restore. Each time
the sandbox must come back to its pre-drill fingerprint with every acknowledged order on the
primary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.crash_matrix import KillPoint, kill_once, kill_points, reference_run

DRILL = "crashloop-rollback"


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


@pytest.fixture(scope="module")
def clean_run(project: Path) -> dict[str, Any]:
    scenario, left = reference_run(project, DRILL)
    assert left == [], f"a drill that was not killed left: {left}"
    return scenario


def _chosen(scenario: dict[str, Any]) -> list[KillPoint]:
    points = kill_points(DRILL, scenario)
    steps = len(scenario["steps"])
    assert steps >= 3, scenario["steps"]
    wanted = {
        "step:2=SIGINT",
        f"step:{steps - 1}=SIGTERM",
        "recorded:1=SIGKILL",
        "applied:1=SIGKILL",
    }
    chosen = [p for p in points if p.failpoint in wanted]
    assert len(chosen) == len(wanted), [p.failpoint for p in points]
    return chosen


def test_every_kill_point_is_restored(
    project: Path, clean_run: dict[str, Any], tmp_path: Path
) -> None:
    results = [kill_once(project, point, tmp_path) for point in _chosen(clean_run)]
    left = [r.describe() for r in results if not r.restored]
    assert left == [], "\n".join(left)
    by_signal = {r.point.signal: r for r in results}
    assert by_signal["SIGTERM"].pending_after_exit == 0
    assert by_signal["SIGINT"].pending_after_exit == 0
    killed = [r for r in results if r.point.signal == "SIGKILL"]
    assert all(r.pending_after_exit >= 1 and r.rollback_code == 0 for r in killed), [
        r.describe() for r in killed
    ]
