"""`drills run --service NAME`: the drill is judged on that service's objectives; a name the
profile does not describe is a usage error before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.plugin.conftest import toy_cli_project
from tests.plugin.test_cli import drills


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = toy_cli_project(tmp_path, ("variant_drills.py", "test_variants.py"))
    profile = root / "fixtures" / "environments" / "sandbox.toml"
    profile.write_text(profile.read_text() + '\n[services.toy]\ndeployment = "toy"\nrto = "1m"\n')
    return root


def _scenario(project: Path) -> dict[str, object]:
    journal = json.loads(sorted(project.glob("reports/*/journal.json"))[-1].read_text())
    found: dict[str, object] = next(s for s in journal["scenarios"] if s["id"] == "toy-variants")
    return found


def test_the_named_service_s_objectives_judge_the_drill(project: Path) -> None:
    done = drills(project, "run", "toy-variants", "--service", "toy")
    assert done.returncode == 0, done.stdout + done.stderr
    scenario = _scenario(project)
    assert scenario["service"] == "toy"
    [rto] = [o for o in scenario["objectives"] if o["name"] == "RTO"]  # type: ignore[attr-defined]
    assert rto["target_s"] == 60.0  # toy's 1m, not the shop's 15m


def test_without_service_the_first_described_one_is_drilled(project: Path) -> None:
    done = drills(project, "run", "toy-variants")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _scenario(project)["service"] == "shop"


def test_an_undescribed_service_is_refused_before_anything_runs(project: Path) -> None:
    done = drills(project, "run", "toy-variants", "--service", "database")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no service 'database' with a deployment" in done.stdout
    assert not list(project.glob("reports/*/journal.json"))
