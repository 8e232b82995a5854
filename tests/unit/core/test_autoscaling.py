import pytest

from drills.autoscaling import desired_replicas
from drills.core.autoscaling import (
    PolicyKind,
    ScaleEvent,
    ScalingPolicy,
    ScalingRules,
    SelectPolicy,
    scale_down_limit,
    scale_up_limit,
)


@pytest.mark.parametrize(
    ("current", "metric", "target", "ready", "expected"),
    [
        (3, 140.0, 70.0, None, 6),  # double the CPU target -> double the pods
        (3, 75.0, 70.0, None, 3),  # within 10 % tolerance -> unchanged
        (3, 63.5, 70.0, None, 3),  # 0.907 -> within tolerance
        (3, 62.0, 70.0, None, 3),  # 0.886 -> ceil(2.66) = 3
        (4, 35.0, 70.0, None, 2),  # half -> half
        (3, 1.2, 0.4, None, 9),  # float noise must not round 9 up to 10
        (5, 200.0, 100.0, 3, 6),  # ready pods drive the product
        (3, 0.0, 70.0, None, 0),  # idle: the caller clamps to minReplicas
    ],
)
def test_desired_replicas_follows_the_documented_rule(
    current: int, metric: float, target: float, ready: int | None, expected: int
) -> None:
    assert desired_replicas(current, metric, target, ready_pods=ready) == expected


def test_the_tolerance_edge_is_compared_as_upstream_does() -> None:
    # pkg/controller/podautoscaler Tolerances.isWithin: ratio <= 1.0 + 0.1 holds for 77/70 in
    # float64, though abs(77/70 - 1.0) > 0.1; the HPA kept 3 replicas in such a sync.
    assert desired_replicas(3, 77.0, 70.0) == 3
    assert desired_replicas(3, 63.0, 70.0) == 3
    assert desired_replicas(3, 77.07, 70.0) == 4


def test_custom_tolerance() -> None:
    assert desired_replicas(3, 75.0, 70.0, tolerance=0.05) == 4


@pytest.mark.parametrize(("metric", "target"), [(1.0, 0.0), (-1.0, 1.0)])
def test_rejects_nonsense(metric: float, target: float) -> None:
    with pytest.raises(ValueError, match=r"positive|negative"):
        desired_replicas(3, metric, target)


UP = ScalingRules(
    0.0,
    SelectPolicy.MAX,
    (ScalingPolicy(PolicyKind.PODS, 4, 15), ScalingPolicy(PolicyKind.PERCENT, 100, 15)),
)
"""The scale-up rules the API server fills in when an HPA has spec.behavior."""


def test_without_behavior_a_scale_up_at_most_doubles_and_reaches_four() -> None:
    assert [scale_up_limit(c, None) for c in (1, 3, 10)] == [4, 6, 20]
    assert scale_down_limit(6, None) == 0  # no rate on the way down


def test_behavior_policies_count_the_scale_events_of_their_period() -> None:
    assert scale_up_limit(3, UP) == 7  # Max(3 + 4, 3 x 2)
    added = [ScaleEvent(at_s=-5.0, change=4)]
    assert scale_up_limit(7, UP, added, now_s=0.0) == 7  # the period began at 3: 7 is the limit
    assert scale_up_limit(7, UP, added, now_s=20.0) == 14  # the event left the 15 s period
    least = ScalingRules(0.0, SelectPolicy.MIN, UP.policies)
    assert scale_up_limit(3, least) == 6  # Min(7, 6)
    assert scale_up_limit(3, ScalingRules(0.0, SelectPolicy.DISABLED)) == 3


def test_scale_down_policies_slow_a_scale_in_and_disabled_stops_it() -> None:
    one_a_minute = ScalingRules(10.0, SelectPolicy.MAX, (ScalingPolicy(PolicyKind.PODS, 1, 60),))
    assert scale_down_limit(6, one_a_minute) == 5
    removed = [ScaleEvent(at_s=-10.0, change=-1)]
    assert scale_down_limit(5, one_a_minute, removed, now_s=0.0) == 5  # spent this minute
    halve = ScalingRules(None, SelectPolicy.MAX, (ScalingPolicy(PolicyKind.PERCENT, 50, 15),))
    assert scale_down_limit(7, halve) == 3  # int(7 x 0.5), as upstream truncates
    assert scale_down_limit(6, ScalingRules(None, SelectPolicy.DISABLED)) == 6
    assert "Disabled" in ScalingRules(None, SelectPolicy.DISABLED).describe()
    assert one_a_minute.describe() == "window 10 s, Max of 1 Pods/60 s"
