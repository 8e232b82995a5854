"""The second demo service drilled through its profile section alone (`--service notes`).

`notes` has its own API (`PUT/GET /notes/{id}`), role, database and locustfile; nothing in
drills/ or scenarios/ names it. pod-kill-under-load must judge it on its own objectives and its
own ledger (`[services.notes.ledger]`): notes deleted behind the service's back while the drill
runs must FAIL the drill, named; the healthy run must PASS. db-pool-exhaustion leaks sessions of
the notes role (its own CONNECTION LIMIT): a leak the runbook's idle rule cannot match
(`DRILLS_POOL_LEAK_DEFECT=busy`) must FAIL because the pool never drains, with the rollout
restart of step 3 run on the notes Deployment; the healthy run must PASS with the canary
committing throughout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fixtures.pool import DEFECT_BUSY, DEFECT_ENV
from tests.e2e.drill_cli import figures, objective, run_drill
from tests.e2e.ledger_defects import (
    assert_lost_writes_named,
    delete_notes,
    delete_orders_after_step,
)

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


@pytest.mark.extended  # the same loss with the generic user runs in make test (journeys)
def test_notes_lost_behind_the_services_back_fail_and_are_named(project: Path) -> None:
    lost = delete_orders_after_step(
        project,
        "pod-kill-under-load",
        "Kill half the pods",
        "--service",
        "notes",
        delete=delete_notes,
    )
    scenario: dict[str, Any] = assert_lost_writes_named(lost)
    assert scenario["service"] == "notes"
    assert "this fault touches no data, so none may be lost" in scenario["reason"]


@pytest.mark.extended  # the defect above runs in make test; this is its healthy twin
def test_notes_pass_pod_kill_on_their_own_objectives(project: Path) -> None:
    run = run_drill(project, "pod-kill-under-load", "--service", "notes")
    scenario = run.scenario
    assert (run.code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    assert scenario["service"] == "notes"
    rpo = objective(scenario, "RPO")
    assert rpo["measured_s"] == 0.0
    assert "acknowledged writes lost" in {f["name"] for f in scenario["figures"]}


def test_a_notes_leak_the_idle_rule_cannot_match_fails_because_the_pool_never_drains(
    project: Path,
) -> None:
    run = run_drill(
        project,
        "db-pool-exhaustion",
        "--service",
        "notes",
        "--objective",
        "notes.rto=15s",
        env={DEFECT_ENV: DEFECT_BUSY},
    )
    scenario = run.scenario
    assert (run.code, scenario["verdict"]) == (1, "FAIL"), run.output[-3000:]
    assert scenario["service"] == "notes"
    rto = objective(scenario, "RTO")
    assert rto["measured_s"] >= 15.0
    assert "the pool never drained" in rto["detail"]
    assert 'too many connections for role "notes"' in rto["detail"]  # its own limit, not the shop's
    seen = figures(scenario)
    assert "drills-leak-" not in seen["sessions terminated"]["detail"]
    assert "kubectl rollout restart deployment/notes" in seen["rollout restarts"]["detail"]
    assert all(r["outcome"] == "done" for r in scenario["rollbacks"])
    print(f"notes pool, busy leak: {scenario['reason']}")  # noqa: T201 - for the report


@pytest.mark.extended  # the defect above runs in make test; this is its healthy twin
def test_notes_pass_pool_exhaustion_with_the_canary_committing_throughout(project: Path) -> None:
    run = run_drill(project, "db-pool-exhaustion", "--service", "notes")
    scenario = run.scenario
    assert (run.code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    seen = figures(scenario)
    assert "role notes CONNECTION LIMIT" in seen["time to saturation"]["detail"]
    assert seen["acknowledged writes lost"]["value"] == 0
    assert seen["canary RPO"]["value"] == 0.0
    assert seen["canary longest gap"]["value"] < 1.0  # its connection was open before the leak
    assert seen["free connection slots"]["value"] >= seen["free connection slots"]["target"]
    rto = objective(scenario, "RTO")["measured_s"]
    print(f"notes pool: RTO {rto:.1f} s; {seen['acknowledged writes']['detail']}")  # noqa: T201
    for name in ("time to saturation", "canary longest gap", "free connection slots"):
        print(f"notes pool: {name} {seen[name]['value']} ({seen[name]['detail']})")  # noqa: T201


@pytest.mark.extended  # the shop's defect twins of these drills run in make test
@pytest.mark.parametrize(
    ("drill", "variant"),
    [
        ("crashloop-rollback", ""),
        ("node-drain-reboot", "drain"),
        ("node-drain-reboot", "node-down"),
        ("node-drain-reboot", "no-room"),
        ("db-connection-failure", "db-down"),
        ("db-connection-failure", "bad-secret"),
    ],
)
def test_notes_pass_the_release_node_and_connection_drills(
    project: Path, drill: str, variant: str
) -> None:
    args = ("--variant", variant) if variant else ()
    run = run_drill(project, drill, "--service", "notes", *args)
    scenario = run.scenario
    assert (run.code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    assert scenario["service"] == "notes"
    assert figures(scenario)["acknowledged writes lost"]["value"] == 0
    steps = " / ".join(s["name"] for s in scenario["steps"])
    assert "shop" not in steps, steps  # every step names the drilled service's own things
    rto = objective(scenario, "RTO")["measured_s"]
    print(f"notes {drill} {variant}: RTO {rto:.1f} s; {steps}")  # noqa: T201
