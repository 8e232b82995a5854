import pytest

from drills.autoscaling import desired_replicas


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


def test_custom_tolerance() -> None:
    assert desired_replicas(3, 75.0, 70.0, tolerance=0.05) == 4


@pytest.mark.parametrize(("metric", "target"), [(1.0, 0.0), (-1.0, 1.0)])
def test_rejects_nonsense(metric: float, target: float) -> None:
    with pytest.raises(ValueError, match=r"positive|negative"):
        desired_replicas(3, metric, target)
