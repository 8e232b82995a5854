"""Node faults of RUNBOOKS.md §3.13: cordoned nodes, a silent node, the drain's budget, stand-ins.

Each records its rollback before it acts (Drill.inject / Drill.prepare), as data that
`drills rollback` replays after a SIGKILLed harness (drills.targets.adapters.node_rollbacks):

- `CordonNodes`: `kubectl cordon` of one node (the drain's first act) or of several (`no-room`);
  the rollback uncordons the nodes that were schedulable before, so a killed harness never
  leaves the cluster without room.
- `SilenceNode`: a node stops reporting (`node-down`): its heartbeats stop, so the upstream
  node lifecycle controller marks it NotReady and taints it; the rollback resumes them.
- `DisruptionBudget`: the PodDisruptionBudget the drain must respect, created before the drain
  (a preparation, not a fault); the rollback deletes it.
- `StandInInstances`: an EC2 instance per node where the cloud API has none (the sandbox's moto);
  the rollback terminates every instance that was not there before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from drills.core.errors import InjectionFailed
from drills.core.safety import BlastRadius, RollbackEntry
from drills.targets.ports.nodes import DisruptionBudgets, Instances, NodeHeartbeats, Nodes

__all__ = [
    "CORDON_KIND",
    "PDB_KIND",
    "SILENCE_KIND",
    "STAND_IN_KIND",
    "CordonNodes",
    "DisruptionBudget",
    "SilenceNode",
    "StandInInstances",
    "new_instances",
    "uncordon",
]

CORDON_KIND = "cordon-nodes"
SILENCE_KIND = "silence-node"
PDB_KIND = "disruption-budget"
STAND_IN_KIND = "stand-in-instances"


@dataclass
class CordonNodes:
    """`kubectl cordon` each of `names`; capped by the blast radius over all nodes.

    The rollback uncordons the nodes that were schedulable when it was recorded (a node cordoned
    before the drill stays cordoned) unless a recovery already did; idempotent.
    """

    nodes: Nodes
    names: tuple[str, ...]
    blast_radius: BlastRadius = field(default_factory=BlastRadius)
    kind: str = CORDON_KIND
    _cordoned_by_us: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        """The nodes, `node/a,b`."""
        return f"node/{','.join(self.names)}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"kubectl cordon {' '.join(self.names)}"

    def rollback_entry(self) -> RollbackEntry:
        """Remember which of the nodes are schedulable now: those are uncordoned afterwards."""
        self._cordoned_by_us = tuple(n for n in self.names if not self.nodes.node(n).unschedulable)
        return RollbackEntry(self.kind, self.target, {"nodes": json.dumps(self._cordoned_by_us)})

    def apply(self) -> None:
        """Cordon the nodes; refuses more than the cap and a node that is already cordoned."""
        if not self.names:
            raise InjectionFailed("no node to cordon")
        self.blast_radius.check(len(self.names), len(self.nodes.nodes()), "nodes")
        already = sorted(set(self.names) - set(self._cordoned_by_us))
        if already:
            raise InjectionFailed(f"node(s) {', '.join(already)} already cordoned before the drill")
        for name in self.names:
            self.nodes.set_unschedulable(name, unschedulable=True)

    def rollback(self) -> None:
        """Uncordon what this fault cordoned, unless it is schedulable again; idempotent."""
        uncordon(self.nodes, self._cordoned_by_us)


def uncordon(nodes: Nodes, names: tuple[str, ...] | list[str]) -> list[str]:
    """`kubectl uncordon` every named node still cordoned; the names it changed."""
    changed = []
    for name in names:
        if nodes.node(name).unschedulable:
            nodes.set_unschedulable(name, unschedulable=False)
            changed.append(name)
    return changed


@dataclass
class SilenceNode:
    """Stop a node's heartbeats (Lease and status): the node stops reporting (`node-down`).

    One node of the cluster, checked against the blast radius. The rollback resumes the
    heartbeats unless they run already; idempotent.
    """

    heartbeats: NodeHeartbeats
    node: str
    blast_radius: BlastRadius = field(default_factory=BlastRadius)
    kind: str = SILENCE_KIND

    @property
    def target(self) -> str:
        """The node."""
        return f"node/{self.node}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"stop the heartbeats of node {self.node} (it stops reporting)"

    def rollback_entry(self) -> RollbackEntry:
        """Resume the node's heartbeats."""
        return RollbackEntry(self.kind, self.target, {"node": self.node})

    def apply(self) -> None:
        """Stop the heartbeats; the node must be one of the beating ones."""
        beating = self.heartbeats.beating()
        if not beating.get(self.node):
            raise InjectionFailed(f"node {self.node} is not reporting now: {beating}")
        self.blast_radius.check(1, len(beating), "nodes")
        self.heartbeats.set(self.node, enabled=False)

    def rollback(self) -> None:
        """Resume the heartbeats if they are still stopped."""
        if not self.heartbeats.beating().get(self.node, True):
            self.heartbeats.set(self.node, enabled=True)


@dataclass
class DisruptionBudget:
    """Create a PodDisruptionBudget (`minAvailable`) over `selector`; the rollback deletes it.

    A budget that already exists is not the drill's to replace or delete: refused.
    """

    budgets: DisruptionBudgets
    name: str
    selector: dict[str, str]
    min_available: int
    kind: str = PDB_KIND

    @property
    def target(self) -> str:
        """The budget."""
        return f"{self.budgets.namespace}/pdb/{self.name}"

    def describe(self) -> str:
        """One line for the plan."""
        labels = ",".join(f"{k}={v}" for k, v in sorted(self.selector.items()))
        return f"create pdb/{self.name} minAvailable={self.min_available} selector {labels}"

    def rollback_entry(self) -> RollbackEntry:
        """Delete the budget."""
        return RollbackEntry(self.kind, self.target, {"name": self.name})

    def apply(self) -> None:
        """Create it; refuses when one of that name is there already."""
        if self.budgets.state(self.name) is not None:
            raise InjectionFailed(f"pdb/{self.name} exists already; it is not the drill's")
        self.budgets.create(self.name, dict(self.selector), min_available=self.min_available)

    def rollback(self) -> None:
        """Delete the budget if it is there; idempotent."""
        self.budgets.delete(self.name)


@dataclass
class StandInInstances:
    """An EC2 instance for each node the cloud API has none for (moto: state only).

    The rollback terminates every instance tagged for a node that was not there when it was
    recorded, so instances that stood for the nodes before the drill stay.
    """

    instances: Instances
    nodes: tuple[str, ...]
    kind: str = STAND_IN_KIND
    _before: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        """The nodes the instances stand for."""
        return f"ec2/instances-for/{','.join(self.nodes)}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"run an EC2 instance for each of {', '.join(self.nodes)} that has none"

    def rollback_entry(self) -> RollbackEntry:
        """Remember the instances there now; the others are terminated afterwards."""
        self._before = tuple(s.instance_id for s in self.instances.describe())
        return RollbackEntry(self.kind, self.target, {"before": json.dumps(self._before)})

    def apply(self) -> None:
        """Run the missing instances."""
        self.instances.stand_in(list(self.nodes))

    def rollback(self) -> None:
        """Terminate the instances that were not there before; idempotent."""
        self.instances.terminate(new_instances(self.instances, self._before))


def new_instances(instances: Instances, before: tuple[str, ...] | list[str]) -> list[str]:
    """Ids of the node instances live now that were not in `before`."""
    return [s.instance_id for s in instances.describe() if s.instance_id not in set(before)]
