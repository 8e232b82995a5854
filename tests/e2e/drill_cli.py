"""What the end-to-end drill tests share: a project root with its own sandbox, and the real CLI.

The drill modules share one sandbox in a temporary copy of the project (scenarios,
profiles, the shop), runs `drills run` there in a subprocess as a user would, and reads the
run's `reports/latest/journal.json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.sandbox.sandbox_root import sandbox_in_temp_root

REPO = Path(__file__).resolve().parents[2]
PARTS = (
    "scenarios",
    "fixtures/environments",
    "fixtures/shop",
    "fixtures/notes",  # the second demo service: the sandbox deploys it beside the shop
    "fixtures/backup",
    "fixtures/locustfiles",  # a described service's locustfile is named from the project root
)


@contextmanager
def sandboxed_project(prefix: str) -> Iterator[Path]:
    """A temporary project root with the scenarios, profiles, shop and practicals, sandbox up.

    The practicals (fixtures/practicals.py) are there so the certification modules can share
    the drill modules' sandbox (tests/e2e/conftest.py) instead of bringing up one each.
    """
    files = {
        "pyproject.toml": "",
        "conftest.py": (REPO / "conftest.py").read_text(),
        "fixtures/practicals.py": (REPO / "fixtures" / "practicals.py").read_text(),
    }
    with sandbox_in_temp_root(PARTS, files=files, prefix=prefix) as root:
        yield root


@dataclass(frozen=True)
class DrillRun:
    """One `drills run` of a single drill: exit code, its journal entry, what it printed."""

    code: int
    scenario: dict[str, Any]
    output: str


def run_drill(
    root: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    unset: Iterable[str] = (),
    timeout_s: float = 300,
) -> DrillRun:
    """`drills --root ROOT run ARGS` with `env` added and `unset` removed from the environment."""
    environ = {name: value for name, value in os.environ.items() if name not in set(unset)}
    environ.update({"PYTHONPATH": str(REPO), **(env or {})})
    command = [sys.executable, "-m", "drills.cli", "--root", str(root), "run", *args]
    done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=timeout_s)
    return DrillRun(done.returncode, latest_scenario(root), done.stdout + done.stderr)


def shown_drill(
    root: Path, *args: str, env: Mapping[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """`run_drill`, printing what a reader of the test log needs: on ERROR the output's tail
    and the rollbacks, then the verdict, every objective and figure, and the steps."""
    run = run_drill(root, *args, env=env)
    scenario = run.scenario
    if scenario["verdict"] == "ERROR":
        print(run.output[-8000:])  # noqa: T201 - why the harness broke
        print(json.dumps(scenario["rollbacks"], indent=1))  # noqa: T201
    print(f"  {scenario['id']} {scenario['verdict']}: {scenario['reason']}")  # noqa: T201
    for item in (*scenario["objectives"], *scenario["figures"]):
        print(f"  {scenario['id']}: {json.dumps(item)}")  # noqa: T201 - the figures, for the report
    for step in scenario.get("steps", []):
        print(f"  step: {json.dumps(step)}")  # noqa: T201
    return run.code, scenario


def latest_scenario(root: Path) -> dict[str, Any]:
    """The one scenario of the latest run's `reports/latest/journal.json`."""
    journal = json.loads((root / "reports" / "latest" / "journal.json").read_text())
    [scenario] = journal["scenarios"]
    return dict(scenario)


def sandbox_endpoints(root: Path) -> dict[str, Any]:
    """The sandbox's endpoints.json: DSNs, the service URL, moto's address."""
    data: dict[str, Any] = json.loads((root / ".drills/sandbox/endpoints.json").read_text())
    return data


def assert_no_replication_slots(root: Path) -> None:
    """No replication slot is left on the sandbox's primary (a replica or standby drill's)."""
    with psycopg.connect(sandbox_endpoints(root)["admin_dsn"], autocommit=True) as conn:
        slots = conn.execute("SELECT slot_name FROM pg_replication_slots").fetchall()
    assert slots == [], f"replication slots left on the primary: {slots}"


def kubectl(root: Path, *args: str, timeout_s: float = 30) -> str:
    """Run the extracted kubectl against the project's sandbox; its stdout."""
    binary = REPO / ".drills" / "bin" / "kubectl"
    if not binary.exists():
        pytest.skip("kubectl missing: run `make .drills/bin/kubectl` (make test does)")
    config = ["--kubeconfig", str(root / ".drills" / "sandbox" / "kubeconfig")]
    done = subprocess.run(
        [str(binary), *config, *args], check=True, capture_output=True, text=True, timeout=timeout_s
    )
    return done.stdout


def objective(scenario: dict[str, Any], name: str) -> dict[str, Any]:
    """The one objective `name` (RTO or RPO) of a journal entry."""
    found: list[dict[str, Any]] = [o for o in scenario["objectives"] if o["name"] == name]
    assert len(found) == 1, f"expected one {name} objective, got {found}"
    return found[0]


def figures(scenario: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A journal entry's figures by name."""
    return {f["name"]: f for f in scenario["figures"]}


def incident_timings(scenario: dict[str, Any]) -> tuple[float, float, float]:
    """TTD, TTM and TTR of a passed drill, each measured and held against its target.

    Every drill records the three under one name each (drills.core.incident); TTR is the
    measured RTO, so it equals the RTO objective's figure.
    """
    seen = figures(scenario)
    values = []
    for name in ("TTD (time to detect)", "TTM (time to mitigate)", "TTR (time to recover)"):
        figure = seen[name]
        assert figure["value"] is not None, f"{name} not measured: {figure['detail']}"
        assert figure["target"] is not None, f"{name} has no target"
        assert 0 <= figure["value"] <= figure["target"], figure
        values.append(float(figure["value"]))
    ttd, ttm, ttr = values
    assert ttd <= ttr
    assert ttm <= ttr
    assert ttr == objective(scenario, "RTO")["measured_s"]
    return ttd, ttm, ttr


def assert_reinstated(root: Path, scenario: dict[str, Any]) -> None:
    """A data drill's rollback ran and left no restored instance: no files, no server process."""
    assert scenario["rollbacks"], "the destroy fault must record its reinstate rollback"
    assert all(r["outcome"] == "done" for r in scenario["rollbacks"]), scenario["rollbacks"]
    postgres = root / ".drills" / "sandbox" / "postgres"
    assert [p.name for p in postgres.iterdir() if p.name.startswith("restored-")] == []
    listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert f"{postgres}/restored-" not in listed.stdout, "a restored server is still running"
