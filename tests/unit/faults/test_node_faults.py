"""The node faults of RUNBOOKS.md §3.13: rollback recorded first, undone in process and replayed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.core.clock import FakeClock
from drills.core.drill import Drill, DrillSpec
from drills.core.errors import ConfigError, InjectionFailed, SafetyViolation
from drills.core.events import DrillEvents
from drills.core.safety import (
    BlastRadius,
    Replayed,
    RollbackEntry,
    RollbackLedger,
    RollbackRegistry,
)
from drills.faults.nodes import CordonNodes, DisruptionBudget, SilenceNode, StandInInstances
from drills.targets.adapters import node_rollbacks
from drills.targets.adapters.entry_cluster import Located
from drills.targets.adapters.node_rollbacks import (
    delete_budget,
    resume_heartbeats,
    terminate_stand_ins,
    uncordon_nodes,
)
from tests.node_fakes import FakeBudgets, FakeHeartbeats, FakeInstances, FakeNodes

ALL = BlastRadius(max_fraction=1.0)


def _drill(tmp_path: Path) -> tuple[Drill, RollbackLedger]:
    ledger = RollbackLedger(tmp_path / "rollbacks.jsonl")
    spec = DrillSpec("node-drain-reboot", "§3.13", "shop", run_id="r1")
    return Drill(spec, clock=FakeClock(), events=DrillEvents(), ledger=ledger), ledger


def test_cordon_records_the_schedulable_nodes_before_it_acts_and_uncordons_them(
    tmp_path: Path,
) -> None:
    nodes = FakeNodes.three(FakeClock())
    drill, ledger = _drill(tmp_path)
    fault = CordonNodes(nodes, ("node-1", "node-2"), ALL)
    drill.inject(fault)
    [pending] = ledger.pending()
    assert (pending.kind, pending.target) == ("cordon-nodes", "node/node-1,node-2")
    assert json.loads(str(pending.args["nodes"])) == ["node-1", "node-2"]
    assert [n.unschedulable for n in nodes.nodes()] == [True, True, False]
    record = drill.finish()
    assert [r.outcome for r in record.rollbacks] == ["done"]
    assert [n.unschedulable for n in nodes.nodes()] == [False, False, False]
    assert ledger.pending() == []


def test_a_node_cordoned_before_the_drill_is_refused_and_stays_cordoned(tmp_path: Path) -> None:
    nodes = FakeNodes.three(FakeClock())
    nodes.set_unschedulable("node-3", unschedulable=True)
    drill, _ = _drill(tmp_path)
    with pytest.raises(InjectionFailed, match="node-3 already cordoned before the drill"):
        drill.inject(CordonNodes(nodes, ("node-2", "node-3"), ALL))
    drill.finish()
    assert nodes.node("node-3").unschedulable
    assert not nodes.node("node-2").unschedulable


def test_the_blast_radius_caps_how_many_nodes_are_cordoned() -> None:
    nodes = FakeNodes.three(FakeClock())
    fault = CordonNodes(nodes, ("node-1", "node-2", "node-3"), BlastRadius(max_fraction=0.5))
    fault.rollback_entry()
    with pytest.raises(SafetyViolation):
        fault.apply()
    assert not any(n.unschedulable for n in nodes.nodes())


def test_silence_node_stops_and_resumes_the_heartbeats() -> None:
    beats = FakeHeartbeats()
    fault = SilenceNode(beats, "node-2", ALL)
    assert fault.rollback_entry().args == {"node": "node-2"}
    fault.apply()
    assert beats.on["node-2"] is False
    fault.rollback()
    fault.rollback()  # idempotent
    assert beats.calls == [("node-2", False), ("node-2", True)]


def test_a_silent_node_cannot_be_silenced_again() -> None:
    beats = FakeHeartbeats()
    beats.on["node-1"] = False
    with pytest.raises(InjectionFailed, match="node-1 is not reporting now"):
        SilenceNode(beats, "node-1", ALL).apply()


def test_the_budget_is_created_and_deleted_but_never_one_that_exists() -> None:
    budgets = FakeBudgets()
    fault = DisruptionBudget(budgets, "shop-drain-drill", {"app": "shop"}, 2)
    assert fault.target == "default/pdb/shop-drain-drill"
    assert "minAvailable=2 selector app=shop" in fault.describe()
    fault.apply()
    state = budgets.state("shop-drain-drill")
    assert state is not None
    assert state.disruptions_allowed == 1
    with pytest.raises(InjectionFailed, match="exists already"):
        fault.apply()
    fault.rollback()
    fault.rollback()
    assert budgets.stored == {}


def test_stand_ins_are_terminated_but_instances_from_before_stay() -> None:
    instances = FakeInstances()
    instances.stand_in(["node-1"])
    fault = StandInInstances(instances, ("node-1", "node-2", "node-3"))
    entry = fault.rollback_entry()
    assert json.loads(str(entry.args["before"])) == ["i-0001"]
    fault.apply()
    assert [s.node for s in instances.describe()] == ["node-1", "node-2", "node-3"]
    fault.rollback()
    assert list(instances.live) == ["i-0001"]


# -- drills rollback ------------------------------------------------------------------------------
def test_replaying_a_cordon_uncordons_once() -> None:
    nodes = FakeNodes.three(FakeClock())
    nodes.set_unschedulable("node-1", unschedulable=True)
    entry = RollbackEntry("cordon-nodes", "node/node-1", {"nodes": json.dumps(["node-1"])})
    assert uncordon_nodes(entry, nodes=nodes) is Replayed.RESTORED
    assert not nodes.node("node-1").unschedulable
    assert uncordon_nodes(entry, nodes=nodes) is Replayed.ALREADY


def test_replaying_without_the_cluster_names_the_command_to_run() -> None:
    entry = RollbackEntry("cordon-nodes", "node/node-1", {"nodes": json.dumps(["node-1"])})
    with pytest.raises(ConfigError, match="kubectl uncordon node-1"):
        uncordon_nodes(entry)


def test_replaying_the_heartbeats_budget_and_stand_ins() -> None:
    beats = FakeHeartbeats()
    beats.on["node-2"] = False
    silent = RollbackEntry("silence-node", "node/node-2", {"node": "node-2"})
    assert resume_heartbeats(silent, heartbeats=beats) is Replayed.RESTORED
    assert resume_heartbeats(silent, heartbeats=beats) is Replayed.ALREADY
    budgets = FakeBudgets()
    budgets.create("shop-drain-drill", {"app": "shop"}, min_available=2)
    pdb = RollbackEntry("disruption-budget", "default/pdb/shop-drain-drill", {})
    assert delete_budget(pdb, budgets=budgets) is Replayed.RESTORED
    assert delete_budget(pdb, budgets=budgets) is Replayed.ALREADY
    instances = FakeInstances()
    instances.stand_in(["node-1", "node-2"])
    stand_in = RollbackEntry("stand-in-instances", "ec2/x", {"before": json.dumps(["i-0001"])})
    assert terminate_stand_ins(stand_in, instances=instances) is Replayed.RESTORED
    assert list(instances.live) == ["i-0001"]
    assert terminate_stand_ins(stand_in, instances=instances) is Replayed.ALREADY


def test_a_bad_budget_target_or_missing_socket_is_refused() -> None:
    with pytest.raises(ConfigError, match="is not <namespace>/pdb/<name>"):
        delete_budget(RollbackEntry("disruption-budget", "default/deployment/shop", {}))
    with pytest.raises(ConfigError, match="names no node or socket"):
        resume_heartbeats(RollbackEntry("silence-node", "node/node-2", {"node": "node-2"}))


def test_located_adds_where_to_the_entry_and_the_kinds_are_registered() -> None:
    beats = FakeHeartbeats()
    located = Located(SilenceNode(beats, "node-3", ALL), {"control_socket": "/run/x.sock"})
    entry = located.rollback_entry()
    assert dict(entry.args) == {"node": "node-3", "control_socket": "/run/x.sock"}
    assert (located.kind, located.target) == ("silence-node", "node/node-3")
    registry = RollbackRegistry()
    node_rollbacks.register_rollbacks(registry)
    kinds = {CordonNodes.kind, SilenceNode.kind, DisruptionBudget.kind, StandInInstances.kind}
    assert kinds <= set(registry.kinds())
