"""`disk-space-exhausted` end to end through `drills run`: a cleanup that takes a fresh log FAILs.

On the shared sandbox (tests/e2e/conftest.py; the module must leave it at its fingerprint, which
counts the mounts under the project, so a tmpfs left mounted fails the module). The defect, in
`make test`, is the documented switch `DRILLS_DISK_CLEANUP_DEFECT=fresh-logs` (fixtures/disk.py):
the cleanup deletes `*.log` with `-mtime +0`, so it really deletes the seeded log from three days
ago; the drill must FAIL naming that file and its age. The healthy runs of both variants are
`extended` (make test-all), as is a SIGKILL with the volume full, after which `drills rollback`
alone must unmount it and put the shop back. After every run: no capped volume mounted, no
LOG_DIR or LOG_LEVEL left on the shop, its rollout complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fixtures.disk import DEFECT_ENV, DEFECT_FRESH_LOGS
from tests.e2e.crash_matrix import KillPoint, kill_once
from tests.e2e.drill_cli import figures, incident_timings, kubectl, objective, run_drill

DRILL = "disk-space-exhausted"
STEPS = {
    "ballast": [
        "Fault: fallocate a ballast file to 95% of the volume",
        "Detect: disk usage over 90% (critical [003])",
        "Runbook step 1: df -h; du -sh * | sort -h; size of the log directory",
        "Runbook step 2 (now): delete *.log older than 7 days, temp files, the ballast",
        "Runbook step 3 (later): logrotate daily, 7 kept; modify-volume; ship logs",
        "Verify: usage under 80%, users served",
    ],
    "runaway-log": [
        "Fault: roll out LOG_LEVEL=DEBUG (runaway log output)",
        "Detect: disk usage over 90% (critical [003])",
        "Runbook step 1: df -h; du -sh * | sort -h; size of the log directory",
        "Runbook step 2 (now): delete *.log older than 7 days, temp files, the ballast",
        "Runbook step 3: restore the log level (rollout), truncate the runaway logs",
        "Verify: usage under 80%, users served",
    ],
}
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _drill(root: Path, variant: str, defect: str = "") -> tuple[int, dict[str, Any]]:
    env = {DEFECT_ENV: defect} if defect else None
    run = run_drill(root, DRILL, "--variant", variant, env=env, unset=[DEFECT_ENV])
    print(f"{run.scenario['verdict']}: {run.scenario['reason']}")  # noqa: T201 - the -rP record
    for figure in run.scenario["figures"]:
        said = f"{figure['value']} (target {figure['target']}) {figure['detail']}"
        print(f"  {figure['name']}: {said}")  # noqa: T201
    return run.code, run.scenario


def _as_found(root: Path) -> None:
    """No capped volume mounted under the project, the shop without the drill's settings."""
    kubectl(root, "rollout", "status", "deployment/shop", "--timeout=90s", timeout_s=100)
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    assert [m for m in mounts if str(root / ".drills" / "disk") in m] == []
    assert not (root / ".drills" / "disk").exists() or not any((root / ".drills/disk").iterdir())
    spec = json.loads(
        kubectl(root, "get", "deployment", "shop", "-o", "jsonpath={.spec.template.spec}")
    )
    names = {e["name"] for e in spec["containers"][0].get("env", [])}
    assert names.isdisjoint({"LOG_DIR", "LOG_LEVEL", "DEBUG_LOG_BYTES"}), names


def test_a_cleanup_deleting_a_fresh_log_fails_naming_it(project: Path) -> None:
    code, scenario = _drill(project, "ballast", DEFECT_FRESH_LOGS)
    assert (code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    reason = scenario["reason"]
    assert "the cleanup" in reason
    assert "took files the runbook keeps" in reason
    assert "removed archive/shop-access.day-3.log (3.0 days old" in reason
    assert "a log younger than 7 days" in reason
    assert "-mtime +0" in reason
    assert "shop-access.day-0.log" not in reason  # under a day old: -mtime +0 keeps it
    steps = {s["name"]: s["outcome"] for s in scenario["steps"]}
    assert steps[STEPS["ballast"][3]] == "failed"
    seen = figures(scenario)
    assert seen["files the cleanup should have kept"]["value"] == 1
    assert seen["TTD (time to detect)"]["value"] is not None
    assert {r["outcome"] for r in scenario["rollbacks"]} == {"done"}
    _as_found(project)


@pytest.mark.extended
@pytest.mark.parametrize("variant", ["ballast", "runaway-log"])
def test_the_runbook_cleanup_passes(project: Path, variant: str) -> None:
    code, scenario = _drill(project, variant)
    assert (code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    assert scenario["variant"] == variant
    assert [s["name"] for s in scenario["steps"]] == STEPS[variant]
    assert {s["outcome"] for s in scenario["steps"]} == {"ok"}
    incident_timings(scenario)
    rto = objective(scenario, "RTO")
    assert 0 < rto["measured_s"] < rto["target_s"]
    assert objective(scenario, "RPO")["measured_s"] == 0.0
    seen = figures(scenario)
    assert seen["files the cleanup should have kept"]["value"] == 0
    removed = seen["files the cleanup removed"]["detail"]
    for gone in ("shop-access.day-10.log", "shop-access.day-9.log", "export-orders.tmp"):
        assert gone in removed
    assert ("ballast.img (" in removed) == (variant == "ballast")
    assert seen["peak volume usage"]["value"] > 0.9
    assert seen["time above 90%"]["value"] > 0
    assert seen["time back under 80%"]["value"] is not None
    assert seen["volume usage at the end"]["value"] < 0.8
    assert seen["acknowledged writes lost"]["value"] == 0
    if variant == "runaway-log":
        assert seen["shop log writes failed"]["value"] > 0  # the volume really filled up
        assert seen["runaway log truncated"]["value"] > 0
    assert {r["outcome"] for r in scenario["rollbacks"]} == {"done"}
    _as_found(project)


@pytest.mark.extended
def test_drills_rollback_unmounts_the_volume_after_a_kill(project: Path, tmp_path: Path) -> None:
    """SIGKILL at runbook step 1, the volume 95% full and the shop logging to it: the mount,
    LOG_DIR on the shop and the ballast are pending; `drills rollback` alone must give the
    sandbox back (kill_once compares the whole fingerprint, mounts under the project included)."""
    point = KillPoint(DRILL, "step:3=SIGKILL", "start of runbook step 1, the volume full")
    result = kill_once(project, point, tmp_path)
    assert result.restored, result.describe()
    assert result.pending_after_exit == 3  # the mount, LOG_DIR, the ballast
    assert result.rollback_code == 0
    _as_found(project)
