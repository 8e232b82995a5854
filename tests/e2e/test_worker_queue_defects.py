"""`worker-queue-backlog` end to end through `drills run`: a purged queue FAILS naming its tasks.

On the shared sandbox (tests/e2e/conftest.py; the module must leave it at its fingerprint, the
sandbox's Redis included; these tests also check what the fingerprint does not hold: the workers
back at 0 replicas and the shop without BROKER_URL). The defect
(`DRILLS_WORKER_PURGE_DEFECT=purge`) runs the seed's "retry", `celery purge`, while the workers
are down: the tasks still queued are really deleted, so their orders never get a confirmation,
and the drill must FAIL naming them; the test finds each named task in the shop's outbox and
without a result. In `make test` only that run; the healthy runs of the three variants are
`extended` (make test-all).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.e2e.drill_cli import figures, kubectl, run_drill, sandbox_endpoints

DRILL = "worker-queue-backlog"
RECOVERY_STEPS = [
    "kubectl get pods | grep shop-worker, kubectl logs deployment/shop-worker",
    "redis-cli LLEN celery, redis-cli LLEN celery:failed, redis-cli PING",
    "kubectl rollout restart deployment/shop-worker, kubectl scale deployment/shop-worker",
    "redis-cli LRANGE celery:failed 0 -1 (read only; never celery purge)",
]
KEPT = (
    "TTD (time to detect)",
    "TTR (time to recover)",
    "queue depth before the fault",
    "queue depth at its peak",
    "time to drain",
    "tasks accepted",
    "tasks completed",
    "tasks failed",
    "tasks lost",
    "duplicate deliveries",
    "error ratio after the fault",
)
TASK_ID = re.compile(r"\b([0-9a-f]{32}) \(order ")
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]
Recorder = Callable[[str, object], None]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _keep(record_property: Recorder, scenario: dict[str, Any]) -> None:
    """The verdict, reason and main figures as JUnit properties, and printed (measured)."""
    record_property("verdict", scenario["verdict"])
    record_property("reason", scenario["reason"])
    print(f"{scenario['verdict']}: {scenario['reason']}")  # noqa: T201 - the measured outcome
    for name, figure in figures(scenario).items():
        if name in KEPT:
            record_property(name, figure["value"])
            print(f"  {name}: {figure['value']} {figure['unit']} {figure['detail'][:160]}")  # noqa: T201


def _as_found(root: Path) -> None:
    """The workers at 0 and the shop without BROKER_URL, as the sandbox keeps them."""
    worker = json.loads(kubectl(root, "get", "deployment", "shop-worker", "-o", "json"))
    assert worker["spec"]["replicas"] == 0
    shop = json.loads(kubectl(root, "get", "deployment", "shop", "-o", "json"))
    env = shop["spec"]["template"]["spec"]["containers"][0].get("env", [])
    assert "BROKER_URL" not in {e["name"] for e in env}


def _steps_in_order(scenario: dict[str, Any]) -> None:
    names = [s["name"] for s in scenario["steps"]]
    found = [next((i for i, n in enumerate(names) if n.startswith(p)), -1) for p in RECOVERY_STEPS]
    assert -1 not in found, names
    assert found == sorted(found), names


def _outcomes(root: Path, task_ids: list[str]) -> tuple[set[str], set[str]]:
    """Of `task_ids`: those in the shop's outbox, those with a worker's result."""
    with psycopg.connect(sandbox_endpoints(root)["admin_dsn"], autocommit=True) as conn:
        accepted = conn.execute(
            "SELECT task_id FROM task_outbox WHERE task_id = ANY(%s)", (task_ids,)
        ).fetchall()
        done = conn.execute(
            "SELECT task_id FROM task_results WHERE task_id = ANY(%s)", (task_ids,)
        ).fetchall()
    return {str(r[0]) for r in accepted}, {str(r[0]) for r in done}


def test_a_purged_queue_fails_naming_the_lost_tasks(
    project: Path, record_property: Recorder
) -> None:
    run = run_drill(project, DRILL, env={"DRILLS_WORKER_PURGE_DEFECT": "purge"})
    scenario = run.scenario
    _keep(record_property, scenario)
    assert (run.code, scenario["verdict"]) == (1, "FAIL"), run.output[-3000:]
    reason = scenario["reason"]
    assert reason.startswith("AssertionError: accepted tasks lost: "), reason
    assert "the queue was purged (celery purge: Purged " in reason, reason
    named = TASK_ID.findall(reason)
    assert named, reason
    accepted, done = _outcomes(project, named)
    assert accepted == set(named), "every named task was accepted with its order"
    assert not done, f"named as lost, yet completed: {done}"
    lost = figures(scenario)["tasks lost"]
    assert lost["value"] >= len(named)
    assert lost["target"] == 0
    _steps_in_order(scenario)
    _as_found(project)


@pytest.mark.extended
@pytest.mark.parametrize("variant", ["workers-down", "broker-down", "poison"])
def test_the_healthy_queue_passes(project: Path, record_property: Recorder, variant: str) -> None:
    run = run_drill(project, DRILL, "--variant", variant)
    scenario = run.scenario
    _keep(record_property, scenario)
    assert (run.code, scenario["verdict"]) == (0, "PASS"), run.output[-3000:]
    assert scenario["variant"] == variant
    _steps_in_order(scenario)
    seen = figures(scenario)
    assert seen["tasks lost"]["value"] == 0
    assert seen["tasks accepted"]["value"] > 0
    if variant == "poison":
        assert seen["tasks failed"]["value"] >= 5
    _as_found(project)
