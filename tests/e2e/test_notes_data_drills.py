"""`snapshot-restore` and `pitr` against the second demo service (`--service notes`).

notes keeps its data in a database and role of its own and reads its DSN from its own Secret;
nothing in drills/ or scenarios/ names it. The drills take its table and key from
`[services.notes.ledger]`, its database and role from its DSN, its Secret from its Deployment,
and must restore, verify, repoint and reinstate that database, not the shop's. The defects are
the data modules' (tests/e2e/test_data_recovery_defects.py), real against notes: a snapshot
older than the RPO really loses the notes written after it, and a WAL archive missing its newest
segments really cannot replay them. The healthy runs (extended) PASS and show the canary RPO
beside the notes ledger's. After each run the notes must be home: the notes table back in the
notes database on the primary, the Secret pointing there, no restored instance left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tests.e2e.crash_matrix import (
    CLOCK,
    cli,
    fingerprint,
    max_order_id,
    pending_entries,
    wait_restored,
)
from tests.e2e.drill_cli import (
    REPO,
    assert_reinstated,
    figures,
    incident_timings,
    kubectl,
    objective,
    sandbox_endpoints,
    shown_drill,
)

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

NOTES = ("--service", "notes")
CANARY_INTERVAL_S = 0.05  # [canary] rate_per_s = 20 in the sandbox profile


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def latest_scenarios(root: Path) -> list[dict[str, Any]]:
    """The scenarios of the latest run's journal (none for a drill skipped before it began)."""
    journal = json.loads((root / "reports" / "latest" / "journal.json").read_text())
    return list(journal["scenarios"])


def _notes_home(root: Path) -> int:
    """How many notes the primary's notes database holds (the table must be there)."""
    dsn = make_conninfo(sandbox_endpoints(root)["admin_dsn"], dbname="notes")
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM notes").fetchone()
    return int(row[0]) if row else 0


def _assert_notes_reinstated(root: Path, scenario: dict[str, Any], before: int) -> None:
    """The rollback put the notes home and left no restored instance behind."""
    assert_reinstated(root, scenario)
    assert _notes_home(root) > before, "the notes written during the drill are not all home"
    secret = kubectl(root, "get", "secret", "notes-database", "-o", "jsonpath={.data.url}")
    url = subprocess.run(
        ["base64", "-d"], input=secret, capture_output=True, text=True, check=True
    ).stdout
    assert url == sandbox_endpoints(root)["service_dsns"]["notes"], "notes not pointed home"


def _assert_on_notes(scenario: dict[str, Any]) -> None:
    """The drill dropped and judged the notes table, and its canaries lived in notes' database."""
    steps = [step["name"] for step in scenario.get("steps", [])]
    assert any("DROP TABLE notes" in name for name in steps), steps
    assert any("Repoint the app (notes)" in name for name in steps), steps
    canary = figures(scenario)["canary RPO"]
    # read back from the restored instance as the notes role on its notes database
    assert canary["value"] is not None, canary["detail"]


def test_a_stale_snapshot_of_the_notes_fails_on_the_rpo(project: Path) -> None:
    before = _notes_home(project)
    code, scenario = shown_drill(
        project,
        "snapshot-restore",
        *NOTES,
        "--objective",
        "database.rpo=4s",
        env={"DRILLS_SNAPSHOT_LEAD": "7s"},
    )
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    rpo = objective(scenario, "RPO")
    assert rpo["target_s"] == 4.0
    assert rpo["measured_s"] > 4.0
    assert "database RPO: measured" in scenario["reason"]
    assert "vs target 4s -> FAIL" in scenario["reason"]
    seen = figures(scenario)
    age = seen["snapshot age at the fault"]
    assert age["value"] > age["target"] == 4.0
    assert seen["acknowledged writes lost"]["value"] > 0  # notes PUT after the snapshot
    _assert_on_notes(scenario)
    _assert_notes_reinstated(project, scenario, before)


def test_an_archive_missing_segments_fails_the_pitr_of_the_notes(project: Path) -> None:
    before = _notes_home(project)
    code, scenario = shown_drill(project, "pitr", *NOTES, env={"DRILLS_TEST_LOSE_WAL": "1"})
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    assert "recovery target not reached" in scenario["reason"]
    assert "acknowledged before the recovery point are lost" in scenario["reason"]
    seen = figures(scenario)
    assert seen["recovery point found in the WAL"]["value"] == 0.0
    assert seen["writes lost before the recovery point"]["value"] > 0
    steps = [step["name"] for step in scenario.get("steps", [])]
    assert any("DROP TABLE notes" in name for name in steps), steps
    _assert_notes_reinstated(project, scenario, before)


@pytest.mark.extended  # the defect above runs in make test; this is its healthy twin
def test_notes_pass_snapshot_restore_with_the_canary_beside_their_ledger(project: Path) -> None:
    before = _notes_home(project)
    code, scenario = shown_drill(project, "snapshot-restore", *NOTES)
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    rpo = objective(scenario, "RPO")
    assert 0 < rpo["measured_s"] < rpo["target_s"]  # notes after the snapshot honestly lost
    seen = figures(scenario)
    assert seen["writes acknowledged after the snapshot"]["value"] > 0
    incident_timings(scenario)
    _assert_on_notes(scenario)
    _assert_canary_matches_the_ledger(seen["canary RPO"]["value"], rpo["measured_s"])
    _assert_notes_reinstated(project, scenario, before)


def _assert_canary_matches_the_ledger(canary_s: float, ledger_s: float) -> None:
    """The issue's check: the canary RPO is the notes ledger's within one canary interval.

    Both spans run from the oldest lost write's acknowledgement to the fault, and both lost
    writes were acknowledged after the snapshot's export. The canary commits every 50 ms, so its
    oldest lost row came at most one interval after the export: the ledger's RPO can exceed the
    canary's by up to that interval. The notes ledger's oldest lost write is the first PUT
    acknowledged after the export, so it can fall short of the canary's by the gap between
    two acknowledged PUTs (about 20 ms at this load, more when users pause together). Its
    times are Locust's, mapped onto the drill's clock, which the canary's are not. Measured
    here: 0.027 and 0.029 s apart, ledger above canary (one interval holds); the assertion
    allows two intervals so a busy CI machine's commit latency does not fail a healthy run.
    """
    print(f"  canary RPO {canary_s:.3f} s, notes ledger RPO {ledger_s:.3f} s")  # noqa: T201
    assert abs(ledger_s - canary_s) <= 2 * CANARY_INTERVAL_S, (canary_s, ledger_s)


@pytest.mark.extended  # the defect above runs in make test; this is its healthy twin
def test_notes_pass_pitr_losing_nothing(project: Path) -> None:
    before = _notes_home(project)
    code, scenario = shown_drill(project, "pitr", *NOTES)
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    seen = figures(scenario)
    assert seen["acknowledged writes before the fault"]["value"] > 0
    assert seen["writes acknowledged after the base backup"]["value"] > 0  # replayed from WAL
    assert "read back" in seen["timeline after promotion"]["detail"]
    assert seen["recovery point found in the WAL"]["value"] == 1.0
    assert seen["writes lost before the recovery point"]["value"] == 0.0
    assert seen["canary RPO"]["value"] == 0.0  # the harness's own rows agree
    incident_timings(scenario)
    _assert_on_notes(scenario)
    _assert_notes_reinstated(project, scenario, before)


@pytest.mark.extended  # cheap, but make test's budget goes to the defects
@pytest.mark.parametrize(
    ("drill", "variant"),
    [("snapshot-restore", "data-loss-inplace"), ("pitr", "replica-promote")],
)
def test_variants_built_on_the_shops_orders_refuse_the_notes(
    project: Path, drill: str, variant: str
) -> None:
    """Skipped before the drill starts: nothing injected, no verdict, the reason printed."""
    command = [sys.executable, "-m", "drills.cli", "--root", str(project), "run", drill]
    done = subprocess.run(
        [*command, "--variant", variant, *NOTES, "--", "-rs"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = " ".join((done.stdout + done.stderr).split())
    print(f"  exit {done.returncode}: {output[-1500:]}")  # noqa: T201
    assert f"variant {variant} uses the demo shop's own tables" in output
    assert "service notes keeps its writes in notes" in output
    assert latest_scenarios(project) == []


def _notes_by_id(root: Path) -> dict[str, str]:
    """Every note on the primary: id -> the payload hash the service stored."""
    dsn = make_conninfo(sandbox_endpoints(root)["admin_dsn"], dbname="notes")
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute("SELECT note_id, payload_hash FROM notes").fetchall()
    return {str(note_id): str(digest) for note_id, digest in rows}


def _acknowledged_since(root: Path, since_s: float) -> dict[str, str]:
    """The notes the run's users saw acknowledged (its ledger files written since `since_s`)."""
    acked: dict[str, str] = {}
    for ledger in (root / "reports").glob("*/**/ledger.jsonl"):
        if ledger.stat().st_mtime >= since_s:
            for line in filter(str.strip, ledger.read_text().splitlines()):
                write = json.loads(line)
                acked[write["key"]] = write["payload_hash"]
    return acked


@pytest.mark.extended  # the crash matrix's kill and replay (make bench), for a service not the shop
def test_drills_rollback_puts_the_notes_home_after_a_kill_on_the_restored_instance(
    project: Path, tmp_path: Path
) -> None:
    """SIGKILL as the 9th step starts: the table dropped on the primary, the notes Deployment
    repointed at the restored instance and writing there. `drills rollback` alone must put
    every note home (those from before, those the users saw acknowledged during the run, on
    either instance), point the Secret back and remove the restored instance."""
    up_to = max_order_id(project)
    before = fingerprint(project, up_to)  # Deployments, Secrets, sessions, servers, netns
    kept = _notes_by_id(project)
    started = CLOCK.wall().timestamp()
    mark = tmp_path / "reached"
    failpoint = {"DRILLS_FAILPOINT": "step:9=SIGKILL", "DRILLS_FAILPOINT_REACHED": str(mark)}
    code, output = cli(project, "run", "snapshot-restore", *NOTES, extra=failpoint)
    assert "Service back" in mark.read_text(), output[-3000:]
    assert code == -signal.SIGKILL, output[-3000:]
    assert pending_entries(project) >= 1  # the reinstate, recorded before the DROP
    code, output = cli(project, "rollback")
    assert code == 0, output[-3000:]
    assert pending_entries(project) == 0
    assert wait_restored(project, before, up_to) == []
    now = _notes_by_id(project)
    assert [k for k, digest in kept.items() if now.get(k) != digest] == []
    acked = _acknowledged_since(project, started)
    assert acked, "the run's users acknowledged no note before the kill"
    assert sorted(k for k in acked if k not in now) == []  # KEY_ONLY never: notes keep hashes
    assert _notes_home(project) >= len(kept) + len(acked)
    print(f"notes kill at step 9: {len(acked)} acknowledged notes all home")  # noqa: T201
