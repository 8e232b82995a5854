"""A service drilled through journeys alone: no locustfile, the generic user (issue 18, part 3).

On the shared sandbox, a copy of the sandbox profile (`journeys`) describes notes with
`[[services.notes.journeys]]` (a PUT that acknowledges `{key}`, a GET that reads it back) and no
locustfile, and a ledger without `hash_column`: the generic user (drills/locustfile/generic.py)
drives the traffic and its acknowledged writes are checked by key alone. Notes deleted behind
the service's back during pod-kill-under-load must FAIL the drill, named (make test); the
healthy run must PASS on the notes objectives (extended).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.core.services import KEY_ONLY
from tests.e2e.drill_cli import objective, shown_drill
from tests.e2e.ledger_defects import (
    assert_lost_writes_named,
    delete_notes,
    delete_orders_after_step,
    notes_journeys,
)

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

DRILL = "pod-kill-under-load"
PROFILE = "journeys"
LOCUSTFILE_LINES = '[services.notes.load]\nlocustfile = "fixtures/locustfiles/notes.py"\n'
JOURNEYS = notes_journeys("notes")
KEY_ONLY_SAID = "checks acknowledged writes by key alone"


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Iterator[Path]:
    """The shared sandbox with the `journeys` profile beside `sandbox` (removed afterwards)."""
    environments = drill_project / "fixtures" / "environments"
    text = (environments / "sandbox.toml").read_text()
    assert LOCUSTFILE_LINES in text
    assert 'hash_column = "payload_hash"\n' in text
    text = text.replace('name = "sandbox"', f'name = "{PROFILE}"', 1)
    text = text.replace(LOCUSTFILE_LINES, JOURNEYS, 1)
    text = text.replace('hash_column = "payload_hash"\n', "", 1)  # notes': the key alone
    path = environments / f"{PROFILE}.toml"
    path.write_text(text)
    try:
        yield drill_project
    finally:
        path.unlink(missing_ok=True)


def _generic_user_ran(root: Path) -> int:
    """The journeys, not a locustfile, made the traffic; returns the acknowledged writes.

    Locust's own statistics name the journeys' path templates, and every write in the drill's
    ledger was recorded by key alone.
    """
    load = root / "reports" / "latest" / "load" / DRILL
    stats = "".join(log.read_text() for log in load.glob("locust-*.log"))
    assert "/notes/{key}" in stats, "no request of the journeys in Locust's statistics"
    assert "/notes/{id}" not in stats, "the notes locustfile ran, not the generic user"
    writes = [json.loads(line) for line in (load / "ledger.jsonl").read_text().splitlines()]
    assert writes, "no acknowledged write in the drill's ledger"
    assert {w["payload_hash"] for w in writes} == {KEY_ONLY}
    totals = re.findall(r"Aggregated\s+(\d+)\s+(\d+)\(", stats)  # Locust's request table
    requests, failures = totals[-1] if totals else ("?", "?")
    print(f"requests (Locust's own count): {requests}, {failures} failed")  # noqa: T201
    print(f"acknowledged writes (journey 'write a note'): {len(writes)}")  # noqa: T201
    return len(writes)


def test_journey_writes_lost_behind_the_services_back_fail_and_are_named(project: Path) -> None:
    lost = delete_orders_after_step(
        project,
        DRILL,
        "Kill half the pods",
        "--service",
        "notes",
        "--env",
        PROFILE,
        delete=delete_notes,
    )
    scenario: dict[str, Any] = assert_lost_writes_named(lost)
    assert scenario["service"] == "notes"
    assert "this fault touches no data, so none may be lost" in scenario["reason"]
    assert KEY_ONLY_SAID in lost.run.output
    _generic_user_ran(project)


@pytest.mark.extended  # the defect above runs in make test; this is its healthy twin
def test_journeys_pass_pod_kill_on_the_notes_objectives(project: Path) -> None:
    code, scenario = shown_drill(project, DRILL, "--service", "notes", "--env", PROFILE)
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    assert scenario["service"] == "notes"
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    assert objective(scenario, "RTO")["measured_s"] is not None
    _generic_user_ran(project)
