"""In-memory nodes, budget, instances and heartbeats for the node-drain-reboot unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from drills.core.clock import FakeClock
from drills.core.errors import DrillError
from drills.targets.ports.nodes import (
    BudgetState,
    EvictionAnswer,
    InstanceState,
    NodePod,
    NodeState,
)

REFUSAL = (
    "Cannot evict pod as it would violate the pod's disruption budget. "
    "The disruption budget shop-drain-drill needs 3 healthy pods and has 3 currently"
)


@dataclass
class FakeNodes:
    """Nodes and their pods; an eviction is accepted while `allowed` > 0 (a budget's count).

    An evicted pod is marked deleting and leaves its node `leave_after_s` later; each departure
    gives the budget its disruption back once `ready_after_s` more have passed (the replacement
    Ready elsewhere), so one pod goes at a time as with minAvailable = replicas - 1.
    """

    clock: FakeClock
    states: dict[str, NodeState] = field(default_factory=dict)
    pods: dict[str, list[NodePod]] = field(default_factory=dict)
    allowed: int = 1
    leave_after_s: float = 1.0
    ready_after_s: float = 1.0
    evictions: list[str] = field(default_factory=list)
    _leaving: dict[str, float] = field(default_factory=dict)
    _returns: list[float] = field(default_factory=list)

    @classmethod
    def three(cls, clock: FakeClock, **kwargs: object) -> FakeNodes:
        nodes = cls(clock, **kwargs)  # type: ignore[arg-type]
        for index in (1, 2, 3):
            name = f"node-{index}"
            nodes.states[name] = NodeState(name, "True", unschedulable=False)
            nodes.pods[name] = []
        return nodes

    def place(self, node: str, *names: str, daemon: bool = False) -> None:
        for name in names:
            pod = NodePod("default", name, (("app", "shop"),), 500, 512, mirror_or_daemon=daemon)
            self.pods[node].append(pod)

    def _tick(self) -> None:
        now = self.clock.now()
        for node, pods in self.pods.items():
            self.pods[node] = [p for p in pods if self._leaving.get(p.name, now + 1) > now]
        due = [at for at in self._returns if at <= now]
        self._returns = [at for at in self._returns if at > now]
        self.allowed += len(due)

    def nodes(self) -> list[NodeState]:
        return [self.states[n] for n in sorted(self.states)]

    def node(self, name: str) -> NodeState:
        if name not in self.states:
            raise DrillError(f"read node {name}: not found (HTTP 404)")
        return self.states[name]

    def set_unschedulable(self, name: str, *, unschedulable: bool) -> None:
        self.states[name] = replace(self.states[name], unschedulable=unschedulable)

    def pods_on(self, name: str) -> list[NodePod]:
        self._tick()
        return list(self.pods[name])

    def evict(self, namespace: str, pod: str) -> EvictionAnswer:
        self._tick()
        if self.allowed <= 0:
            return EvictionAnswer(accepted=False, status=429, message=REFUSAL)
        self.allowed -= 1
        self.evictions.append(pod)
        gone_at = self.clock.now() + self.leave_after_s
        self._leaving[pod] = gone_at
        self._returns.append(gone_at + self.ready_after_s)
        for node, pods in self.pods.items():
            self.pods[node] = [replace(p, deleting=True) if p.name == pod else p for p in pods]
        return EvictionAnswer(accepted=True, message=f"pod {namespace}/{pod} evicted")


@dataclass
class FakeBudgets:
    """PodDisruptionBudgets by name."""

    namespace: str = "default"
    stored: dict[str, BudgetState] = field(default_factory=dict)

    def create(self, name: str, selector: dict[str, str], *, min_available: int) -> None:
        self.stored[name] = BudgetState(name, min_available, 3, min_available, 3 - min_available, 3)

    def delete(self, name: str) -> bool:
        return self.stored.pop(name, None) is not None

    def state(self, name: str) -> BudgetState | None:
        return self.stored.get(name)


@dataclass
class FakeInstances:
    """EC2 instances by id; `stand_in` numbers new ones."""

    live: dict[str, InstanceState] = field(default_factory=dict)
    reboots: list[str] = field(default_factory=list)

    def describe(self) -> list[InstanceState]:
        return sorted(self.live.values(), key=lambda s: s.node)

    def stand_in(self, nodes: list[str]) -> list[InstanceState]:
        have = {s.node for s in self.live.values()}
        made = []
        for node in (n for n in nodes if n not in have):
            state = InstanceState(f"i-{len(self.live) + 1:04d}", node, "running")
            self.live[state.instance_id] = state
            made.append(state)
        return made

    def reboot(self, instance_ids: list[str]) -> None:
        self.reboots.extend(instance_ids)

    def terminate(self, instance_ids: list[str]) -> None:
        for instance_id in instance_ids:
            self.live.pop(instance_id, None)


@dataclass
class FakeHeartbeats:
    """Node name -> heartbeats on."""

    on: dict[str, bool] = field(
        default_factory=lambda: {"node-1": True, "node-2": True, "node-3": True}
    )
    calls: list[tuple[str, bool]] = field(default_factory=list)

    def set(self, node: str, *, enabled: bool) -> None:
        self.calls.append((node, enabled))
        self.on[node] = enabled

    def beating(self) -> dict[str, bool]:
        return dict(self.on)
