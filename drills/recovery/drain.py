"""`kubectl drain NODE --ignore-daemonsets` as a bounded procedure (RUNBOOKS.md §3.13 step 3).

The node is cordoned first (the caller injects that, its rollback recorded); then every pod on
it that is not a DaemonSet's or a mirror pod is evicted through the eviction API, which
enforces the PodDisruptionBudgets: a refusal (HTTP 429) is retried every poll, as kubectl does
every 5 s, until the pod is evicted or `timeout_s` passes; then the drain waits until the
evicted pods have left the node. Upstream kubectl waits forever by default (`--timeout=0`), so a
budget that allows no disruption hangs it silently: here the time is bounded, and every refusal
is kept with its time and the API server's words, so the caller can say which budget refused
which pod and for how long.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from drills.core.clock import DrillClock
from drills.core.conditions import Observation
from drills.core.waiting import wait_until
from drills.targets.ports.nodes import NodePod, Nodes

__all__ = ["DrainResult", "Refusal", "drain_node"]


@dataclass(frozen=True)
class Refusal:
    """One refused eviction: which pod, when (seconds since the drain began), and why."""

    pod: str
    at_s: float
    message: str


@dataclass
class DrainResult:
    """What a drain did: pods evicted (with when), refusals, pods still on the node."""

    node: str
    started_s: float
    evicted: dict[str, float] = field(default_factory=dict)  # pod -> seconds since start
    refusals: list[Refusal] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    done: bool = False

    def refused_pods(self) -> list[str]:
        """Pods whose eviction was refused at least once and never accepted."""
        return sorted({r.pod for r in self.refusals} - set(self.evicted))

    def describe_refusals(self) -> str:
        """`pod X refused N times from a s to b s: <message>` per pod never evicted."""
        parts = []
        for pod in self.refused_pods():
            mine = [r for r in self.refusals if r.pod == pod]
            parts.append(
                f"pod {pod}: eviction refused {len(mine)} times from {mine[0].at_s:.1f} s to "
                f"{mine[-1].at_s:.1f} s into the drain ({mine[-1].message})"
            )
        return "; ".join(parts)


def _drainable(pods: list[NodePod], namespace_of: Callable[[NodePod], bool]) -> list[NodePod]:
    return [p for p in pods if not p.mirror_or_daemon and namespace_of(p)]


def drain_node(  # noqa: PLR0913 - keyword-only settings of one drain
    nodes: Nodes,
    node: str,
    *,
    clock: DrillClock,
    timeout_s: float,
    poll_s: float = 0.5,
    selects: Callable[[NodePod], bool] = lambda _: True,
) -> DrainResult:
    """Evict every drainable pod on `node` (those `selects` keeps) and wait until they left.

    Never raises for a refusal: the result says what was refused and what is left; DrillError
    from the API passes through. The node must be cordoned already.
    """
    result = DrainResult(node, clock.now())

    def attempt() -> Observation:
        since = clock.now() - result.started_s
        on_node = _drainable(nodes.pods_on(node), selects)
        for pod in (p for p in on_node if p.name not in result.evicted and not p.deleting):
            answer = nodes.evict(pod.namespace, pod.name)
            if answer.accepted:
                result.evicted[pod.name] = since
            else:
                result.refusals.append(Refusal(pod.name, since, answer.message))
        result.left = [p.name for p in on_node]
        return Observation(not on_node, f"{len(on_node)} pod(s) left on {node}")

    waited = wait_until(
        attempt,
        clock=clock,
        timeout_s=timeout_s,
        poll_s=poll_s,
        description=f"drain {node}",
        raise_on_timeout=False,
    )
    result.done = waited.met
    result.elapsed_s = clock.now() - result.started_s
    return result
