"""`high-cpu-latency` (variant `lock`) end to end through `drills run`: PASS, and FAIL when broken.

The drill modules' shared sandbox (tests/e2e/conftest.py). The healthy run holds an exclusive
lock on `orders` from the harness's own session and recovers by terminating that blocker alone:
it must PASS with every waiter completed and no write lost. The defect is the runbook's
hazardous recovery, switched on with `DRILLS_LOCK_DEFECT=terminate-all` (fixtures/latency.py):
"terminate active queries older than 5 min" [003] run as written (age 0) ends the shop's
waiting writes, while the blocker, idle in its transaction, keeps the lock. The drill must FAIL
naming the innocent sessions it terminated, and its rollback must still end the blocker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drills.recovery.terminate_blocker import SAFE_FORM
from fixtures.latency import DEFECT_ENV, DEFECT_TERMINATE_ALL
from tests.e2e.drill_cli import figures, incident_timings, objective, run_drill

DRILL = "high-cpu-latency"
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    return drill_project


def _lock_drill(root: Path, *, defect: str = "") -> tuple[int, dict[str, Any], str]:
    run = run_drill(
        root,
        DRILL,
        "--variant",
        "lock",
        env={DEFECT_ENV: defect} if defect else None,
        unset=[DEFECT_ENV],
    )
    return run.code, run.scenario, run.output


def _blocker_rolled_back(scenario: dict[str, Any]) -> None:
    kinds = [r["kind"] for r in scenario["rollbacks"]]
    assert "table-lock" in kinds, f"the lock's rollback must be recorded: {kinds}"
    assert all(r["outcome"] == "done" for r in scenario["rollbacks"]), scenario["rollbacks"]


def test_the_lock_variant_passes_terminating_the_blocker_alone(project: Path) -> None:
    code, scenario, output = _lock_drill(project)
    assert (code, scenario["verdict"]) == (0, "PASS"), f"{scenario['reason']}\n{output[-3000:]}"
    assert scenario["variant"] == "lock"
    rto = objective(scenario, "RTO")
    assert 0 < rto["measured_s"] < rto["target_s"] == 900.0
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    incident_timings(scenario)
    seen = figures(scenario)
    assert seen["root blockers"]["value"] == 1.0
    assert "drills-lock-" in seen["root blockers"]["detail"]
    assert seen["backends waiting for a lock"]["value"] >= 1
    assert "RowExclusiveLock on orders" in seen["backends waiting for a lock"]["detail"]
    assert seen["sessions terminated"]["value"] == 1.0
    assert "drills-lock-" in seen["sessions terminated"]["detail"]
    assert "root blocker" in seen["sessions terminated"]["detail"]
    assert seen["sessions terminated that blocked nobody"]["value"] == 0.0
    completed = seen["lock waiters completed"]
    assert completed["value"] == completed["target"] >= 1
    assert seen["acknowledged writes lost"]["value"] == 0
    assert seen["acknowledged writes before the fault"]["value"] > 0
    assert SAFE_FORM in seen["sessions terminated"]["detail"]  # the rule that ran, reported
    assert "are not run as written (RUNBOOKS §5.2)" in output
    assert all(s["outcome"] == "ok" for s in scenario["steps"]), scenario["steps"]
    _blocker_rolled_back(scenario)


def test_terminating_every_active_query_fails_naming_the_innocent_waiters(project: Path) -> None:
    code, scenario, output = _lock_drill(project, defect=DEFECT_TERMINATE_ALL)
    assert (code, scenario["verdict"]) == (1, "FAIL"), f"{scenario['reason']}\n{output[-3000:]}"
    reason = scenario["reason"]
    assert "that blocked nobody" in reason
    assert "(shop, active, waiting for a lock): INSERT INTO orders" in reason
    assert "Innocent shop sessions were killed and their writes failed" in reason
    assert "was left holding the lock" in reason
    assert "drills-lock-" in reason
    assert "older than 5 min" in reason  # the rule that ran is named
    seen = figures(scenario)
    assert seen["sessions terminated that blocked nobody"]["value"] >= 1
    assert seen["sessions terminated that blocked nobody"]["target"] == 0.0
    [failed] = [s for s in scenario["steps"] if s["outcome"] == "failed"]
    assert failed["name"].startswith("Runbook step 4")
    _blocker_rolled_back(scenario)
