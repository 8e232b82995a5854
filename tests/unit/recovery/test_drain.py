"""`kubectl drain` as a bounded procedure (RUNBOOKS.md §3.13 step 3) against in-memory nodes."""

from __future__ import annotations

from drills.core.clock import FakeClock
from drills.recovery.drain import drain_node
from tests.node_fakes import REFUSAL, FakeNodes


def test_one_pod_goes_at_once_and_the_budget_refusal_is_waited_out() -> None:
    clock = FakeClock()
    nodes = FakeNodes.three(clock, allowed=1, leave_after_s=1.0, ready_after_s=1.0)
    nodes.place("node-1", "shop-a", "shop-b")
    result = drain_node(nodes, "node-1", clock=clock, timeout_s=20, poll_s=0.5)
    assert result.done
    assert result.evicted == {"shop-a": 0.0, "shop-b": 2.0}  # b waits for a's replacement
    assert [r.pod for r in result.refusals] == ["shop-b"] * 4  # refused at 0, 0.5, 1, 1.5 s
    assert result.refused_pods() == []
    assert result.elapsed_s == 3.0  # b left 1 s after its eviction
    assert nodes.evictions == ["shop-a", "shop-b"]


def test_a_budget_that_allows_nothing_ends_at_the_timeout_with_every_refusal() -> None:
    clock = FakeClock()
    nodes = FakeNodes.three(clock, allowed=0)
    nodes.place("node-2", "shop-c")
    result = drain_node(nodes, "node-2", clock=clock, timeout_s=5, poll_s=1)
    assert not result.done
    assert result.elapsed_s == 5.0
    assert result.evicted == {}
    assert result.left == ["shop-c"]
    assert result.refused_pods() == ["shop-c"]
    assert [r.at_s for r in result.refusals] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    said = result.describe_refusals()
    assert "pod shop-c: eviction refused 6 times from 0.0 s to 5.0 s into the drain" in said
    assert REFUSAL in said


def test_daemonset_pods_stay_and_an_empty_node_drains_at_once() -> None:
    clock = FakeClock()
    nodes = FakeNodes.three(clock)
    nodes.place("node-3", "agent", daemon=True)
    result = drain_node(nodes, "node-3", clock=clock, timeout_s=5, poll_s=1)
    assert result.done
    assert result.elapsed_s == 0.0
    assert nodes.evictions == []
    assert [p.name for p in nodes.pods_on("node-3")] == ["agent"]


def test_selects_limits_what_is_evicted() -> None:
    clock = FakeClock()
    nodes = FakeNodes.three(clock, allowed=5)
    nodes.place("node-1", "shop-a", "other-x")
    result = drain_node(
        nodes, "node-1", clock=clock, timeout_s=5, poll_s=1, selects=lambda p: p.name != "other-x"
    )
    assert result.done
    assert nodes.evictions == ["shop-a"]
