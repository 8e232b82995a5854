"""HPA probes: the rule range and its allowance for resolution, range breaches and pressure."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from drills.core.clock import FakeClock
from drills.probes.autoscaling import (
    HpaSample,
    hpa_at_rest,
    hpa_present,
    peak_pressure,
    range_breaches,
    replicas_above,
    replicas_settled_at,
    rule_range,
    sample_hpa,
)
from drills.targets.ports.autoscaling import HpaCondition, HpaStatus, MetricReading
from drills.targets.ports.workload import PodState


def rps(current: float | None, target: float = 80.0) -> MetricReading:
    return MetricReading("http_requests_per_second", "Pods", "AverageValue", target, current, 0.001)


def cpu(current: float | None, target: float = 70.0) -> MetricReading:
    return MetricReading("cpu", "Resource", "Utilization", target, current, 1.0)


def status(
    current: int, desired: int, *metrics: MetricReading, conditions: tuple[HpaCondition, ...] = ()
) -> HpaStatus:
    return HpaStatus("shop", "Deployment", "shop", 3, 10, current, desired, metrics, conditions)


def settled(hpa: HpaStatus | None, at_s: float = 1.0) -> HpaSample:
    ready = hpa.current_replicas if hpa else 3
    return HpaSample(at_s, hpa, ready, ready, ready)


def test_the_largest_proposal_wins_and_the_range_clamps() -> None:
    assert rule_range(status(3, 3, rps(40.0), cpu(95))) == (5, 5)  # cpu: ceil(3 * 95/70) = 5
    assert rule_range(status(3, 10, rps(400.0))) == (10, 10)  # 15 asked, max 10
    assert rule_range(status(3, 3, rps(1.0))) == (3, 3)  # 1 asked, min 3


def test_whole_percent_cpu_allows_every_value_it_may_stand_for() -> None:
    # A reported 116% stands for 116.0..116.99: 3 * 116/70 = 4.97 -> 5, 3 * 116.9/70 = 5.01 -> 6.
    assert rule_range(status(3, 3, cpu(76))) == (3, 3)  # 76..76.99 stays within the tolerance
    assert rule_range(status(3, 3, cpu(116))) == (5, 6)
    assert rule_range(status(3, 3, rps(None))) is None  # no value yet: the HPA cannot decide


def test_range_breaches_and_peak_pressure() -> None:
    samples = [
        settled(status(3, 3, rps(40.0), cpu(35))),
        settled(status(10, 11, rps(100.0), cpu(20))),
        HpaSample(3.0, None, 2, 2, 3),  # starting pods below the floor are not a breach
    ]
    assert range_breaches(samples, 3, 10) == ["desired 11 outside 3..10 at t=1.0s"]
    undecided = settled(status(3, 0, rps(40.0)), at_s=5.0)  # a new HPA: no decision yet
    assert range_breaches([undecided], 3, 10, origin_s=4.0) == []
    below = settled(status(3, 2, rps(40.0)), at_s=5.0)
    assert range_breaches([below], 3, 10, origin_s=4.0) == ["desired 2 outside 3..10 at t=1.0s"]
    assert peak_pressure(samples) == {"http_requests_per_second": 1.25, "cpu": 0.5}


@dataclass
class FakeShop:
    namespace: str = "default"
    name: str = "shop"
    replicas: int = 3
    ready: list[bool] = field(default_factory=lambda: [True, True, True])

    def pods(self) -> list[PodState]:
        return [PodState(f"shop-{i}", "Running", ok) for i, ok in enumerate(self.ready)]

    def desired_replicas(self) -> int:
        return self.replicas


@dataclass
class FakeHpa:
    namespace: str = "default"
    name: str = "shop"
    current: HpaStatus | None = None

    def status(self) -> HpaStatus | None:
        return self.current


def test_sample_and_conditions_read_the_ports() -> None:
    shop, hpa, clock = FakeShop(), FakeHpa(current=status(3, 3, rps(40.0))), FakeClock()
    sample = sample_hpa(hpa, shop, clock)  # type: ignore[arg-type]
    assert (sample.at_s, sample.settled, sample.spec_replicas) == (clock.now(), True, 3)
    assert hpa_present(hpa)().ok
    assert not replicas_above(shop, 3)().ok  # type: ignore[arg-type]
    shop.replicas, shop.ready = 5, [True, True, True, False, False]
    assert replicas_above(shop, 3)().ok  # type: ignore[arg-type]
    assert not replicas_settled_at(shop)().ok  # type: ignore[arg-type]
    shop.ready = [True] * 5
    assert replicas_settled_at(shop)().ok  # type: ignore[arg-type]
    assert not replicas_settled_at(shop, 3)().ok  # type: ignore[arg-type]
    gone = replace(hpa, current=None)
    assert hpa_present(gone)().detail == "hpa/shop not found"


def test_the_hpa_is_at_rest_when_it_wants_what_runs_and_all_is_ready() -> None:
    shop, hpa = FakeShop(), FakeHpa(current=status(3, 3, rps(40.0)))
    assert hpa_at_rest(hpa, shop)().ok  # type: ignore[arg-type]
    hpa.current = status(3, 4, rps(95.0))  # still acting on an earlier load
    assert not hpa_at_rest(hpa, shop)().ok  # type: ignore[arg-type]
    hpa.current = status(3, 0, rps(40.0))  # a new HPA that has not decided yet
    assert not hpa_at_rest(hpa, shop)().ok  # type: ignore[arg-type]
    hpa.current = None  # no HPA: the pods alone
    assert hpa_at_rest(hpa, shop)().ok  # type: ignore[arg-type]
    shop.ready = [True, True, False]
    assert "2/3 Ready" in hpa_at_rest(hpa, shop)().detail  # type: ignore[arg-type]
