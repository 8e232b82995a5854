"""`node-drain-reboot` end to end through `drills run`: the drain PASSES, a blocking budget FAILS.

On the shared sandbox (tests/e2e/conftest.py; each module must leave it at its fingerprint, and
these tests also check what the fingerprint does not hold: every node schedulable with its
heartbeats on, no drill budget, no stand-in EC2 instance left on moto). The healthy run drains
the node running shop pods under a budget that lets one pod go at a time; the defect
(`DRILLS_DRAIN_DEFECT=zero-budget`) creates the budget with minAvailable = the replicas, so
every eviction is refused and the drill must FAIL naming the budget and the refused eviction
with when it tried, not time out silently. The other variants, and a SIGKILLed harness followed
by `drills rollback`, are `extended` (make test-all).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.crash_matrix import KillPoint, kill_once
from tests.e2e.drill_cli import REPO, figures, kubectl, objective, run_drill, sandbox_endpoints

DRILL = "node-drain-reboot"
BUDGET = "shop-drain-drill"
DRAIN_STEPS = [
    "kubectl get nodes, kubectl describe node ",
    "aws ec2 describe-instances --region ap-southeast-1",
    "kubectl drain ",
    "aws ec2 reboot-instances --instance-ids i-",
    "kubectl uncordon ",
    "Verify: pods rescheduled and Ready, users served",
]
pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _stand_ins(root: Path) -> list[str]:
    ec2 = boto3.client(
        "ec2",
        endpoint_url=sandbox_endpoints(root)["aws_endpoint"],
        region_name="ap-southeast-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    answer = ec2.describe_instances(
        Filters=[
            {"Name": "tag-key", "Values": ["drills-node"]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]},
        ]
    )
    return [i["InstanceId"] for r in answer["Reservations"] for i in r["Instances"]]


def _as_found(root: Path) -> None:
    """Every node Ready and schedulable without taints, no drill budget, no stand-in left."""
    for node in json.loads(kubectl(root, "get", "nodes", "-o", "json"))["items"]:
        name = node["metadata"]["name"]
        assert not node["spec"].get("unschedulable"), f"{name} left cordoned"
        assert not node["spec"].get("taints"), f"{name} left tainted: {node['spec']['taints']}"
        ready = [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready == ["True"], f"{name} Ready={ready}"
    budgets = kubectl(root, "get", "pdb", "-o", "jsonpath={.items[*].metadata.name}").split()
    assert BUDGET not in budgets
    assert _stand_ins(root) == []


Recorder = Callable[[str, object], None]
KEPT = (
    "TTD (time to detect)",
    "TTR (time to recover)",
    "error ratio after the fault",
    "Ready replicas during the drain (lowest)",
    "drain duration",
    "evictions refused by the disruption budget",
    "pods rescheduled off the lost node",
    "node schedulable again",
)


def _keep(record_property: Recorder, scenario: dict[str, Any]) -> None:
    """The run's verdict, reason and main figures as JUnit properties (the measured values)."""
    record_property("verdict", scenario["verdict"])
    record_property("reason", scenario["reason"])
    for name, figure in figures(scenario).items():
        if name in KEPT:
            record_property(name, figure["value"])


def _step_names(scenario: dict[str, Any]) -> list[str]:
    return [s["name"] for s in scenario["steps"]]


def test_the_drain_keeps_users_served_within_the_budget(
    project: Path, record_property: Recorder
) -> None:
    run = run_drill(project, DRILL, "--variant", "drain")
    scenario = run.scenario
    _keep(record_property, scenario)
    assert (run.code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    assert scenario["variant"] == "drain"
    names = _step_names(scenario)
    assert len(names) == len(DRAIN_STEPS), names
    assert all(n.startswith(p) for n, p in zip(names, DRAIN_STEPS, strict=True)), names
    assert {s["outcome"] for s in scenario["steps"]} == {"ok"}
    seen = figures(scenario)
    floor = seen["Ready replicas during the drain (lowest)"]
    assert floor["value"] is not None
    assert floor["value"] >= floor["target"] == 2, floor
    assert seen["pods evicted"]["value"] >= 1
    drained = seen["drain duration"]
    assert drained["value"] is not None
    assert drained["value"] < drained["target"]
    budget = seen["error ratio after the fault"]
    assert budget["value"] is not None
    assert budget["value"] <= budget["target"], budget
    assert seen["node schedulable again"]["value"] is not None
    assert seen["acknowledged writes lost"]["value"] == 0
    rto = objective(scenario, "RTO")
    assert 0 < rto["measured_s"] < rto["target_s"]
    assert {r["outcome"] for r in scenario["rollbacks"]} == {"done"}
    assert "moto" in run.output
    _as_found(project)


def test_a_budget_that_allows_no_disruption_fails_naming_the_refused_eviction(
    project: Path, record_property: Recorder
) -> None:
    run = run_drill(project, DRILL, env={"DRILLS_DRAIN_DEFECT": "zero-budget"})
    scenario = run.scenario
    _keep(record_property, scenario)
    assert (run.code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    reason = scenario["reason"]
    assert "hung: the eviction API refused to evict" in reason
    assert f"pdb/{BUDGET} minAvailable 3: 3 healthy of 3, 0 disruption(s) allowed" in reason
    assert "Cannot evict pod as it would violate the pod's disruption budget" in reason
    assert "tried from 20" in reason  # the wall time the drain began (ISO, this century)
    assert "for 20." in reason  # the bounded drain's 20 s
    steps = {s["name"].split(" ")[1]: s["outcome"] for s in scenario["steps"]}
    assert steps["drain"] == "failed"
    refused = figures(scenario)["evictions refused by the disruption budget"]
    assert refused["value"] >= 20  # every poll for 20 s
    assert {r["outcome"] for r in scenario["rollbacks"]} == {"done"}
    _as_found(project)


@pytest.mark.extended
def test_a_node_that_stops_reporting_is_recovered_within_the_rto(
    project: Path, record_property: Recorder
) -> None:
    run = run_drill(project, DRILL, "--variant", "node-down")
    scenario = run.scenario
    _keep(record_property, scenario)
    assert (run.code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    seen = figures(scenario)
    ttd = seen["TTD (time to detect)"]
    assert ttd["value"] is not None
    assert ttd["value"] < 60, ttd  # --node-monitor-grace-period=10s on the sandbox
    rto = objective(scenario, "RTO")
    assert 0 < rto["measured_s"] < rto["target_s"]
    assert "pod processes are not powered off" in run.output
    _as_found(project)


@pytest.mark.extended
def test_no_room_left_recovers_once_the_nodes_are_uncordoned(
    project: Path, record_property: Recorder
) -> None:
    run = run_drill(project, DRILL, "--variant", "no-room")
    scenario = run.scenario
    _keep(record_property, scenario)
    assert (run.code, scenario["verdict"]) == (0, "PASS"), scenario["reason"]
    seen = figures(scenario)
    assert "Pending" in seen["TTD (time to detect)"]["detail"]
    assert seen["nodes with room for a Pending pod"]["value"] >= 1
    names = _step_names(scenario)
    allocated = names.index('kubectl describe nodes | grep -A 10 "Allocated resources"')
    assert names[allocated + 1].startswith("kubectl uncordon sandbox-node-1 ")
    _as_found(project)


@pytest.mark.extended
def test_drills_rollback_after_a_kill_gives_the_silent_node_back(
    project: Path, tmp_path: Path
) -> None:
    """SIGKILL as the NotReady node is awaited: heartbeats off, stand-ins and no budget yet;
    `drills rollback` alone must bring the heartbeats back and terminate the stand-ins."""
    mark = tmp_path / "reached"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DRILLS_FAILPOINT": "step:2=SIGKILL",  # "Detect: node NotReady"
        "DRILLS_FAILPOINT_REACHED": str(mark),
    }
    cli = [sys.executable, "-m", "drills.cli", "--root", str(project)]
    killed = subprocess.run(
        [*cli, "run", DRILL, "--variant", "node-down"], env=env, capture_output=True, timeout=300
    )
    assert killed.returncode == -9, killed.stderr[-600:]
    assert "Detect: node NotReady" in mark.read_text()
    env.pop("DRILLS_FAILPOINT")
    rolled = subprocess.run(
        [*cli, "rollback"], env=env, capture_output=True, text=True, timeout=120
    )
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    kubectl(
        project, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=90s", timeout_s=100
    )
    kubectl(project, "rollout", "status", "deployment/shop", "--timeout=120s", timeout_s=130)
    _as_found(project)


@pytest.mark.extended
def test_drills_rollback_after_a_kill_uncordons_and_removes_the_budget(
    project: Path, tmp_path: Path
) -> None:
    """SIGKILL as the reboot starts (step 4): the drained node cordoned, the budget and the
    stand-in instances in place; `drills rollback` alone must undo all three."""
    point = KillPoint(DRILL, "step:4=SIGKILL", "reboot-instances after the drain")
    result = kill_once(project, point, tmp_path)
    assert result.restored, result.describe()
    assert result.pending_after_exit == 3  # the stand-ins, the budget, the cordon
    assert result.rollback_code == 0
    _as_found(project)
