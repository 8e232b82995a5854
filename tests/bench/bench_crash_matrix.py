"""The crash matrix over every drill: how many kill points the harness fully restores.

Each drill runs once cleanly, then once per kill point (tests/e2e/crash_matrix.py): SIGINT,
SIGTERM and SIGKILL as each of its steps starts, and SIGKILL right after each fault's rollback is
recorded and right after the fault acted. A point counts as restored when, after the harness
exited (and, for SIGKILL, one `drills rollback`), the sandbox is back to its pre-drill
fingerprint and every acknowledged order is on the primary.

- harness_kill_points: kill points tried (reached);
- harness_kill_restored: of those, fully restored; the ratio is printed, target 1.0, and each
  point that left something behind is listed with what it left.

`DRILLS_CRASH_DRILLS` (comma-separated drill ids) narrows the matrix; by default every drill
under scenarios/. The full matrix takes about an hour on two cores.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests.bench.figures import figure_line
from tests.e2e.crash_matrix import KillPoint, KillResult, kill_once, kill_points, reference_run
from tests.e2e.drill_cli import sandboxed_project
from tests.scenario_ids import drill_ids


def _drills() -> tuple[str, ...]:
    chosen = os.environ.get("DRILLS_CRASH_DRILLS", "")
    return tuple(d.strip() for d in chosen.split(",") if d.strip()) or tuple(drill_ids())


def _drill_matrix(drill: str, tmp: Path) -> list[KillResult]:
    """Every kill point of one drill; a point that left something gets a fresh sandbox after it.

    What a point left behind would otherwise spoil every later one (a pending entry refuses
    the next run, a missing replica fails its steady state), so each point starts clean.
    """
    results: list[KillResult] = []
    points: list[KillPoint] | None = None
    while points is None or len(results) < len(points):
        with sandboxed_project("drills-bench-crash-") as root:
            if points is None:
                scenario, left = reference_run(root, drill)
                points = kill_points(drill, scenario)
                if left:
                    print(f"{drill}: the clean run itself left: {'; '.join(left)}")  # noqa: T201
            for point in points[len(results) :]:
                result = kill_once(root, point, tmp)
                print(result.describe(), flush=True)  # noqa: T201
                results.append(result)
                if not result.restored:
                    break
    return results


def _matrix(tmp: Path) -> list[KillResult]:
    return [result for drill in _drills() for result in _drill_matrix(drill, tmp)]


def run() -> dict[str, float]:
    """Kill every drill at every point on one sandbox; the counts and the ratio."""
    with tempfile.TemporaryDirectory(prefix="drills-crash-marks-") as tmp:
        results = _matrix(Path(tmp))
    points = sum(1 for r in results if r.reached)
    restored = sum(1 for r in results if r.restored)
    for result in results:
        if not result.restored:
            print(f"LEFT BEHIND {result.describe()}")  # noqa: T201
    ratio = restored / points if points else 0.0
    print(figure_line("harness_kill_points", points))  # noqa: T201
    print(figure_line("harness_kill_restored", restored))  # noqa: T201
    met = "met" if points and restored == points else "MISSED"
    line = f"harness_kill_restored / harness_kill_points = {ratio:.3f} | target 1.0: {met}"
    print(line)  # noqa: T201
    return {"harness_kill_points": float(points), "harness_kill_restored": float(restored)}


if __name__ == "__main__":
    run()
