"""hpa_blind and hpa_sees: what `kubectl describe hpa` says of an HPA without its metrics."""

from __future__ import annotations

from dataclasses import dataclass

from drills.probes.autoscaling import hpa_blind, hpa_sees
from drills.targets.ports.autoscaling import HpaCondition, HpaStatus, MetricReading

BLIND = HpaCondition(
    "ScalingActive",
    "False",
    "FailedGetResourceMetric",
    "the HPA was unable to compute the replica count: unable to get metrics for resource cpu",
)
ACTIVE = HpaCondition("ScalingActive", "True", "ValidMetricFound", "")


def _cpu(current: float | None) -> MetricReading:
    return MetricReading("cpu", "Resource", "Utilization", 70.0, current)


@dataclass
class FakeAutoscaler:
    found: HpaStatus | None
    namespace: str = "default"
    name: str = "shop"

    def status(self) -> HpaStatus | None:
        return self.found


def _hpa(condition: HpaCondition | None, current: float | None) -> FakeAutoscaler:
    conditions = () if condition is None else (condition,)
    return FakeAutoscaler(
        HpaStatus("shop", "Deployment", "shop", 3, 10, 3, 3, (_cpu(current),), conditions)
    )


def test_scaling_active_false_is_blind_and_says_why() -> None:
    seen = hpa_blind(_hpa(BLIND, 40.0))()
    assert seen.ok
    assert "ScalingActive False (FailedGetResourceMetric: the HPA was unable" in seen.detail
    assert not hpa_sees(_hpa(BLIND, 40.0))().ok


def test_an_active_hpa_with_every_metric_known_sees() -> None:
    assert hpa_sees(_hpa(ACTIVE, 40.0))().ok
    assert not hpa_blind(_hpa(ACTIVE, 40.0))().ok
    assert not hpa_sees(_hpa(ACTIVE, None))().ok  # active, but cpu still <unknown>
    assert "cpu <unknown>/70" in hpa_sees(_hpa(ACTIVE, None))().detail


def test_no_condition_yet_and_no_hpa_are_neither() -> None:
    fresh = _hpa(None, None)
    assert not hpa_blind(fresh)().ok
    assert "no ScalingActive condition yet" in hpa_sees(fresh)().detail
    gone = FakeAutoscaler(None)
    assert (hpa_blind(gone)().ok, hpa_sees(gone)().ok) == (False, False)
    assert hpa_blind(gone)().detail == "hpa/shop not found"
