"""`drills init` on the sandbox: it sees the shop, writes a valid section, never overwrites.

Run against a copy of the sandbox profile in the shared project (removed afterwards), so the
profile the other modules use is untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drills.core.profile import load_profile
from tests.e2e.drill_cli import REPO, figures, run_drill, sandbox_endpoints
from tests.e2e.ledger_defects import notes_journeys

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture
def profile_copy(drill_project: Path) -> Iterator[Path]:
    """fixtures/environments/inittest.toml: the sandbox profile under another name."""
    folder = drill_project / "fixtures" / "environments"
    copy = folder / "inittest.toml"
    shutil.copy(folder / "sandbox.toml", copy)
    copy.write_text(copy.read_text().replace('name = "sandbox"', 'name = "inittest"'))
    yield copy
    copy.unlink(missing_ok=True)
    shutil.rmtree(drill_project / "locustfiles", ignore_errors=True)


def _drills(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "drills.cli", "--root", str(root), *args]
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=120)


def test_init_describes_the_shop_and_never_overwrites(
    drill_project: Path, profile_copy: Path
) -> None:
    asked = _drills(drill_project, "init", "--env", "inittest")  # no terminal: it lists, refuses
    assert asked.returncode == 2, asked.stdout + asked.stderr
    assert "shop: 3 replica(s)" in asked.stdout
    assert "--deployment NAME" in asked.stdout
    done = _drills(
        drill_project, "init", "--env", "inittest", "--deployment", "shop", "--name", "web"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    web = load_profile(profile_copy).service("web")
    assert web is not None
    assert web.workload is not None
    assert (web.workload.deployment, web.workload.service, web.workload.hpa) == (
        "shop",
        "shop",
        "shop",
    )
    assert web.workload.ready_path == "/readyz"  # from the readiness probe
    skeleton = drill_project / "locustfiles" / "web.py"
    compile(skeleton.read_text(), str(skeleton), "exec")
    listed = _drills(drill_project, "list", "--env", "inittest")
    assert "service web (deployment shop):" in listed.stdout, listed.stdout + listed.stderr
    assert "cannot run pitr: no database: add [services.web.database]" in listed.stdout
    before = profile_copy.read_text()
    again = _drills(
        drill_project, "init", "--env", "inittest", "--deployment", "shop", "--name", "web"
    )
    assert again.returncode == 2
    assert "already has [services.web]" in again.stdout
    assert profile_copy.read_text() == before


JOURNEYS = (
    "\n"
    + notes_journeys("mynotes")
    + """
[services.mynotes.ledger]
table = "notes"
key_column = "note_id"
"""
)


def _filled_in(section: str, url: str) -> str:
    """What a team writes into the section `drills init` left: objectives, URL, DSN, journeys."""
    edits = {
        '# rto = "15m"': 'rto = "15m"',
        '# rpo = "5m"': 'rpo = "5m"',
        '# url = "..."': f'url = "{url}"',
        "# [services.mynotes.database]": "[services.mynotes.database]",
        '# kind = "postgres"': 'kind = "postgres"',
        '# dsn_env = "MYNOTES_DATABASE_URL"': 'dsn_env = "MYNOTES_DATABASE_URL"',
    }
    for written, filled in edits.items():
        assert written in section, f"drills init no longer writes {written!r}:\n{section}"
        section = section.replace(written, filled)
    kept = [line for line in section.splitlines() if not line.startswith("locustfile = ")]
    return "\n".join(kept) + "\n" + JOURNEYS


@pytest.mark.extended  # the init test above runs in make test; this drills what it wrote
def test_the_section_init_writes_for_notes_drills_them_once_filled_in(
    drill_project: Path, profile_copy: Path
) -> None:
    before = profile_copy.read_text()
    done = _drills(
        drill_project, "init", "--env", "inittest", "--deployment", "notes", "--name", "mynotes"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    section = profile_copy.read_text()[len(before) :]
    found = sandbox_endpoints(drill_project)
    profile_copy.write_text(before + _filled_in(section, found["service_urls"]["notes"]))
    mynotes = load_profile(profile_copy).service("mynotes")
    assert mynotes is not None
    assert mynotes.workload is not None
    assert mynotes.workload.deployment == "notes"
    run = run_drill(
        drill_project,
        "db-pool-exhaustion",
        "--env",
        "inittest",
        "--service",
        "mynotes",
        env={"MYNOTES_DATABASE_URL": found["service_dsns"]["notes"]},
    )
    scenario = run.scenario
    assert (run.code, scenario["verdict"]) == (0, "PASS"), f"{scenario['reason']}\n{run.output}"
    assert scenario["service"] == "mynotes"
    seen = figures(scenario)
    assert seen["acknowledged writes"]["value"] > 0  # the journeys' writes, read back by key
    assert seen["acknowledged writes lost"]["value"] == 0
    print(f"mynotes (from drills init): {scenario['reason']}")  # noqa: T201
