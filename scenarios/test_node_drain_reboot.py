"""RUNBOOKS.md §3.13 `node-drain-reboot`: node maintenance, a lost node, no room left.

Variants (fixtures/nodes.py):

- `drain` (the default, planned maintenance): a PodDisruptionBudget lets one pod of the drilled
  service go at a time (created before the drain, its deletion recorded first); then the runbook's
  steps in order: `kubectl get nodes` / `describe node`, `aws ec2 describe-instances`, `kubectl
  drain NODE --ignore-daemonsets` (the cordon is the fault, its uncordon recorded first; every pod
  evicted through the eviction API, so the budget's refusals are the upstream API server's), `aws
  ec2 reboot-instances`, `kubectl uncordon`. Judged: the failed-request ratio inside the profile's
  `[thresholds] error_budget` (aim: zero), Ready replicas never under the budget's minAvailable
  while the drain runs (sampled every 200 ms), the node schedulable again, every replica Ready and
  listed, the service's RTO, no acknowledged write lost. A drain whose evictions stay refused FAILs
  naming the budget and when it tried, rather than hanging.
- `node-down`: the node running the service's pods stops reporting (its heartbeats stop); the
  upstream node lifecycle controller marks it NotReady and taints it, and the pods are evicted after
  the default toleration (both shortened on the sandbox by upstream flags, printed in the report).
  Recovery: get nodes / describe node, describe-instances, reboot-instances (on the sandbox the
  heartbeats come back: moto reboots nothing), the node Ready, uncordon. Judged by the service's RTO
  (15 min [002] for the shop) and the node schedulable.
- `no-room`: every node cordoned, then one of the service's pods lost, so its replacement stays
  Pending; recovery: get nodes, describe-instances, step 6 (`describe nodes`, Allocated resources:
  it reads the Pending pods, so it runs before the uncordon that clears them), uncordon; RTO.

On the sandbox, EC2 is moto: an instance stands for each node (created by the drill, terminated
by its rollback) and `reboot-instances` changes its recorded state only; the report says so.
"""

from __future__ import annotations

import os

import pytest

from drills import Database, Drill, KillPods, Workload, endpoints_listed, replicas_ready
from drills.core.conditions import Condition, Observation
from drills.faults.nodes import CordonNodes, SilenceNode, StandInInstances, uncordon
from drills.recovery.drain import DrainResult, drain_node
from drills.targets.ports.nodes import DisruptionBudgets, NodeHeartbeats
from fixtures.kube import ReplicaSampler
from fixtures.load import Traffic, judge_error_budget
from fixtures.node_steps import (
    allocated_resources,
    describe_instances,
    get_nodes,
    judge_drain,
    judge_ready_floor,
    reboot_instance,
    schedulable,
)
from fixtures.nodes import (
    DRAIN,
    DRAIN_TIMEOUT_S,
    NO_ROOM,
    NODE_DOWN,
    VARIANTS,
    NodePorts,
    budget_for,
    drain_defect,
    node_of_most,
)

_NOT_POWERED_OFF = (
    "sandbox: the node's heartbeats stop; its pod processes are not powered off (the node "
    "agent has no power switch), so users lose them once the node lifecycle controller marks "
    "them NotReady"
)
NODE_WAIT_S = 120.0  # a node NotReady, Ready or schedulable: seconds on the sandbox, bounded here


@pytest.mark.drill(
    id="node-drain-reboot",
    runbook="RUNBOOKS.md §3.13",
    service="shop",
    severity="P2",
    variants=VARIANTS,
)
def test_node_drain_reboot(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_variant: str,
    node_ports: NodePorts,
    traffic: Traffic,
    database: Database,
    ready_timeline: ReplicaSampler,
    request: pytest.FixtureRequest,
) -> None:
    shop, limits = node_ports.shop, node_ports.profile.thresholds
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, limits)
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    traffic.start()
    drill.expect_steady_state(serving & users_ok)
    _stand_in(drill, node_ports)

    if drill_variant == DRAIN:
        _drain(drill, node_ports, ready_timeline)
    elif drill_variant == NODE_DOWN:
        heartbeats: NodeHeartbeats = request.getfixturevalue("node_heartbeats")
        _node_down(drill, node_ports, heartbeats)
    elif drill_variant == NO_ROOM:
        _no_room(drill, node_ports)
    else:
        raise pytest.UsageError(f"node-drain-reboot has no variant {drill_variant!r}: {VARIANTS}")

    with drill.step("Verify: pods rescheduled and Ready, users served"):
        drill.await_recovery(serving & users_ok, timeout_s=_budget_left_s(drill))
    budget = limits.error_budget if drill_variant == DRAIN else None
    users = traffic.record_user_side(drill, error_budget=budget)
    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    verified = traffic.verify_writes(drill, database, existing=existing)
    drill.assert_rpo(verified.report, lossless=True)  # moving pods must lose no committed write
    if budget is not None:
        judge_error_budget(users, budget)


def _budget_left_s(drill: Drill) -> float:
    """Seconds left of the RTO target, plus one so a timeout lands past it (then: FAIL)."""
    spent_s = drill.clock.now() - (drill.fault_at_s or drill.clock.now())
    return max(1.0, drill.rto_target_s() - spent_s + 1.0)


def _stand_in(drill: Drill, ports: NodePorts) -> None:
    """On moto, an EC2 instance for each node (terminated by the rollback); elsewhere none."""
    targets = ports.profile.targets
    if targets.kind != "sandbox":
        return
    names = tuple(n.name for n in ports.nodes.nodes())
    where = {"aws_endpoint": ports.endpoints.aws_endpoint or "", "region": targets.aws_region or ""}
    drill.prepare(ports.bound(StandInInstances(ports.instances, names), **where))
    drill.say("EC2 on the sandbox is moto: one instance stands for each node, state only")


def _drain(drill: Drill, ports: NodePorts, timeline: ReplicaSampler) -> None:
    """Planned maintenance: the budget, runbook steps 1-3 and 5, judged against the budget."""
    replicas = ports.shop.desired_replicas()
    budget = budget_for(ports.shop, replicas, drain_defect(os.environ))
    drill.prepare(ports.bound(budget))
    _budget_counted(drill, budget.budgets, budget.name, replicas)
    node = node_of_most(ports.shop)
    get_nodes(drill, ports.nodes, node)
    instance = describe_instances(drill, ports.instances, node, ports.profile)
    result = _drain_step(drill, ports, node, budget.budgets, budget.name)
    judge_ready_floor(drill, timeline, result, budget.min_available)
    reboot_instance(drill, instance, ports.instances, ports.profile)
    _uncordon_step(drill, ports, [node])


def _budget_counted(drill: Drill, budgets: DisruptionBudgets, name: str, replicas: int) -> None:
    """Wait until the disruption controller has counted the shop's pods into the budget."""

    def counted() -> Observation:
        state = budgets.state(name)
        seen = "not found" if state is None else state.describe()
        return Observation(state is not None and state.expected_pods >= replicas, seen)

    waited = drill.wait_until(counted, timeout_s=30, poll_s=0.2, raise_on_timeout=False)
    drill.say(f"before the drain: {waited.last.detail}")


def _drain_step(
    drill: Drill, ports: NodePorts, node: str, budgets: DisruptionBudgets, budget_name: str
) -> DrainResult:
    """Step 3: cordon (the fault, its uncordon recorded first), then evict every pod there."""
    with drill.step(f"kubectl drain {node} --ignore-daemonsets"):
        cordon = CordonNodes(ports.nodes, (node,), ports.profile.blast_radius)
        drill.inject(ports.bound(cordon))
        drill.record_detected(f"planned: node {node} cordoned for maintenance")
        result = drain_node(
            ports.nodes, node, clock=drill.clock, timeout_s=DRAIN_TIMEOUT_S, poll_s=0.5
        )
        judge_drain(drill, result, budgets.state(budget_name), DRAIN_TIMEOUT_S)
    return result


def _uncordon_step(drill: Drill, ports: NodePorts, names: list[str]) -> None:
    """Step 5: `kubectl uncordon`, then every node schedulable (Ready, no blocking taint)."""
    with drill.step(f"kubectl uncordon {' '.join(names)}"):
        changed = uncordon(ports.nodes, names)
        drill.say(f"uncordoned: {', '.join(changed) or 'none was cordoned'}")
        waited = drill.wait_until(
            schedulable(ports.nodes, names), timeout_s=NODE_WAIT_S, raise_on_timeout=False
        )
        drill.record_since_fault(
            "node schedulable again",
            detail=waited.last.detail,
            no_target="a part of the recovery: TTR is judged against the RTO",
        )
        assert waited.met, f"not schedulable {NODE_WAIT_S:.0f} s after the uncordon: " + (
            waited.last.detail
        )


def _node_down(drill: Drill, ports: NodePorts, heartbeats: NodeHeartbeats) -> None:
    """Unplanned: the node stops reporting; steps 1, 2, 4 (reboot: heartbeats back) and 5."""
    node = node_of_most(ports.shop)
    socket = str(getattr(heartbeats, "control_socket", ""))
    with drill.step(f"Node {node} stops reporting (its heartbeats stop)"):
        silent = SilenceNode(heartbeats, node, ports.profile.blast_radius)
        drill.inject(ports.bound(silent, control_socket=socket))
        drill.say(_NOT_POWERED_OFF)
    with drill.step("Detect: node NotReady"):
        seen = drill.wait_until(
            lambda: ports.nodes.node(node).ready != "True",
            timeout_s=NODE_WAIT_S,
            raise_on_timeout=False,
        )
        if not seen.met:
            drill.record_not_detected(f"node {node} stayed Ready for {NODE_WAIT_S:.0f} s")
            raise AssertionError(f"node {node} never turned NotReady after its heartbeats stopped")
        drill.record_detected(f"node {ports.nodes.node(node).describe()}")
    with drill.step(f"Pods on {node} evicted and rescheduled elsewhere"):
        moved = drill.wait_until(
            _moved_off(ports.shop, node), timeout_s=NODE_WAIT_S, raise_on_timeout=False
        )
        drill.record_since_fault(
            "pods rescheduled off the lost node",
            detail=f"{moved.last.detail}; {_NOT_POWERED_OFF}",
            no_target="the eviction path's milestone: TTR is judged against the RTO",
        )
        assert moved.met, f"{ports.shop.name}'s pods were not moved off {node}: {moved.last.detail}"
    get_nodes(drill, ports.nodes, node)
    instance = describe_instances(drill, ports.instances, node, ports.profile)
    reboot_instance(drill, instance, ports.instances, ports.profile, unplanned=True)
    heartbeats.set(node, enabled=True)  # the reboot's effect on the sandbox: the node reports
    _uncordon_step(drill, ports, [node])


def _no_room(drill: Drill, ports: NodePorts) -> None:
    """No room: every node cordoned, a pod lost, its replacement Pending; steps 1, 2, 6, 5."""
    names = [n.name for n in ports.nodes.nodes()]
    with drill.step(f"Cordon every node ({len(names)}): no room left"):
        cordon = CordonNodes(ports.nodes, tuple(names), ports.profile.blast_radius)
        drill.inject(ports.bound(cordon))
    replicas = ports.shop.desired_replicas()
    with drill.step(f"Lose one {ports.shop.name} pod: its replacement cannot be scheduled"):
        share = 1 / max(replicas, 1)
        kill = KillPods(ports.shop, fraction=share, blast_radius=ports.profile.blast_radius)
        drill.inject(ports.bound(kill))
    with drill.step(f"Detect: a {ports.shop.name} pod Pending"):
        seen = drill.wait_until(_pending(ports.shop), timeout_s=60, raise_on_timeout=False)
        if not seen.met:
            drill.record_not_detected(f"no pod Pending within 60 s: {seen.last.detail}")
            raise AssertionError(f"no replacement stayed Pending: {seen.last.detail}")
        drill.record_detected(seen.last.detail)
    get_nodes(drill, ports.nodes, names[0])
    describe_instances(drill, ports.instances, names[0], ports.profile)
    allocated_resources(drill, ports.nodes, names, ports.shop)
    _uncordon_step(drill, ports, names)


def _moved_off(shop: Workload, node: str) -> Condition:
    """No live shop pod on `node`, and every replica Ready on the other nodes."""

    def check() -> Observation:
        pods = shop.pods()
        stuck = [p.name for p in pods if p.node == node and not p.deleting]
        ready = sum(1 for p in pods if p.ready and p.node != node)
        want = shop.desired_replicas()
        seen = f"{ready}/{want} Ready elsewhere; on {node}: {', '.join(stuck) or 'none'}"
        return Observation(not stuck and ready >= want, seen)

    return Condition(f"moved_off({shop.name}, {node})", check)


def _pending(shop: Workload) -> Condition:
    def check() -> Observation:
        pending = [p.name for p in shop.pods() if p.phase == "Pending" and not p.node]
        return Observation(bool(pending), f"Pending, unscheduled: {', '.join(pending) or 'none'}")

    return Condition(f"pod_pending({shop.name})", check)
