"""Ports for node maintenance (RUNBOOKS.md §3.13): nodes, evictions, disruption budgets, instances.

What `kubectl get nodes`, `describe node`, `drain`, `uncordon` and `aws ec2 describe-instances` /
`reboot-instances` show and do, as plain data, so the drain procedure and the node faults can
be judged with in-memory fakes and run against any cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "BudgetState",
    "DisruptionBudgets",
    "EvictionAnswer",
    "InstanceState",
    "Instances",
    "NodeHeartbeats",
    "NodePod",
    "NodeState",
    "Nodes",
]


@dataclass(frozen=True)
class NodeState:
    """One node as `kubectl get nodes` / `describe node` shows it."""

    name: str
    ready: str  # the Ready condition's status: True, False or Unknown
    unschedulable: bool
    taints: tuple[str, ...] = ()  # `key:Effect`
    allocatable_cpu_m: int = 0
    allocatable_memory_mi: int = 0

    @property
    def schedulable(self) -> bool:
        """Ready, not cordoned and without a NoSchedule/NoExecute taint."""
        blocking = any(t.endswith((":NoSchedule", ":NoExecute")) for t in self.taints)
        return self.ready == "True" and not self.unschedulable and not blocking

    def describe(self) -> str:
        """`sandbox-node-1 Ready=True SchedulingDisabled` style, as `kubectl get nodes`."""
        flags = " SchedulingDisabled" if self.unschedulable else ""
        taints = f" taints={','.join(self.taints)}" if self.taints else ""
        return f"{self.name} Ready={self.ready}{flags}{taints}"


@dataclass(frozen=True)
class NodePod:
    """A pod bound to a node, with what `describe nodes` sums under Allocated resources."""

    namespace: str
    name: str
    labels: tuple[tuple[str, str], ...] = ()
    cpu_request_m: int = 0
    memory_request_mi: int = 0
    mirror_or_daemon: bool = False  # `--ignore-daemonsets`: left on the node by a drain
    deleting: bool = False


@dataclass(frozen=True)
class EvictionAnswer:
    """What the eviction API answered: accepted, or refused and why (HTTP 429 and its text)."""

    accepted: bool
    status: int = 201
    message: str = ""


@dataclass(frozen=True)
class BudgetState:
    """A PodDisruptionBudget's spec and status (`kubectl get pdb`)."""

    name: str
    min_available: int
    current_healthy: int
    desired_healthy: int
    disruptions_allowed: int
    expected_pods: int = 0

    def describe(self) -> str:
        """`pdb/shop-drill minAvailable 2: 3 healthy of 3, 1 disruption allowed` style."""
        return (
            f"pdb/{self.name} minAvailable {self.min_available}: {self.current_healthy} healthy "
            f"of {self.expected_pods}, {self.disruptions_allowed} disruption(s) allowed"
        )


@dataclass(frozen=True)
class InstanceState:
    """An EC2 instance standing for a node (`aws ec2 describe-instances`): its state only."""

    instance_id: str
    node: str
    state: str  # pending | running | stopping | stopped | shutting-down | terminated


class Nodes(Protocol):
    """The cluster's nodes: read them, cordon and uncordon, list and evict their pods."""

    def nodes(self) -> list[NodeState]:
        """Every node (`kubectl get nodes`)."""
        ...

    def node(self, name: str) -> NodeState:
        """One node (`kubectl describe node NAME`); DrillError when there is none."""
        ...

    def set_unschedulable(self, name: str, *, unschedulable: bool) -> None:
        """`kubectl cordon` (True) or `kubectl uncordon` (False)."""
        ...

    def pods_on(self, name: str) -> list[NodePod]:
        """Every pod bound to the node, in every namespace the identity may list."""
        ...

    def evict(self, namespace: str, pod: str) -> EvictionAnswer:
        """Ask the eviction API to evict one pod (what `kubectl drain` does per pod)."""
        ...


class DisruptionBudgets(Protocol):
    """PodDisruptionBudgets of one namespace."""

    namespace: str

    def create(self, name: str, selector: dict[str, str], *, min_available: int) -> None:
        """Create a budget over the pods `selector` matches."""
        ...

    def delete(self, name: str) -> bool:
        """Delete the budget; False when there was none."""
        ...

    def state(self, name: str) -> BudgetState | None:
        """The budget's spec and status, or None when there is none."""
        ...


class Instances(Protocol):
    """The cloud instances behind the nodes (EC2; on the sandbox, moto: state only)."""

    def describe(self) -> list[InstanceState]:
        """Every instance standing for a node (`aws ec2 describe-instances`)."""
        ...

    def stand_in(self, nodes: list[str]) -> list[InstanceState]:
        """Create an instance for each node that has none; the ones created."""
        ...

    def reboot(self, instance_ids: list[str]) -> None:
        """`aws ec2 reboot-instances --instance-ids ...`."""
        ...

    def terminate(self, instance_ids: list[str]) -> None:
        """Terminate instances (the stand-ins' clean-up)."""
        ...


class NodeHeartbeats(Protocol):
    """Stop or resume a node's heartbeats (its Lease and status posts): a node going silent."""

    def set(self, node: str, *, enabled: bool) -> None:
        """Stop (False) or resume (True) the node's heartbeats."""
        ...

    def beating(self) -> dict[str, bool]:
        """Node name -> whether its heartbeats run."""
        ...
