"""HPA probes: the rule check, its allowances for resolution and behaviour, range and pressure."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from drills.core.clock import FakeClock
from drills.probes.autoscaling import (
    HpaSample,
    RuleOutcome,
    check_rule,
    hpa_present,
    judge_rule,
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


def test_a_decision_equal_to_the_rule_matches() -> None:
    # 3 pods at 120 req/s each against 80: ratio 1.5 -> ceil(4.5) = 5
    check = check_rule(settled(status(3, 5, rps(120.0), cpu(40))))
    assert check is not None
    assert check.outcome is RuleOutcome.MATCH
    assert (check.computed_low, check.computed_high) == (5, 5)
    assert "HPA desiredReplicas 5 vs desired_replicas(current 3" in check.describe()


def test_a_decision_off_the_rule_is_a_mismatch_naming_both_numbers() -> None:
    check = check_rule(settled(status(3, 7, rps(120.0))))
    assert check is not None
    assert check.outcome is RuleOutcome.MISMATCH
    assert "desiredReplicas 7" in check.describe()
    assert "= 5 (mismatch)" in check.describe()


def test_the_largest_proposal_wins_and_the_range_clamps() -> None:
    assert rule_range(status(3, 3, rps(40.0), cpu(95))) == (5, 5)  # cpu: ceil(3 * 95/70) = 5
    assert rule_range(status(3, 10, rps(400.0))) == (10, 10)  # 15 asked, max 10
    assert rule_range(status(3, 3, rps(1.0))) == (3, 3)  # 1 asked, min 3


def test_whole_percent_cpu_allows_every_value_it_may_stand_for() -> None:
    # A reported 116% stands for 116.0..116.99: 3 * 116/70 = 4.97 -> 5, 3 * 116.9/70 = 5.01 -> 6.
    assert rule_range(status(3, 3, cpu(76))) == (3, 3)  # 76..76.99 stays within the tolerance
    assert rule_range(status(3, 3, cpu(116))) == (5, 6)
    check = check_rule(settled(status(3, 6, cpu(116))))
    assert check is not None
    assert check.outcome is RuleOutcome.MATCH
    assert check.computed == "5..6"


def test_a_scale_down_held_by_the_window_is_explained() -> None:
    check = check_rule(settled(status(5, 5, rps(20.0))))  # the rule says 2 -> 3; window holds 5
    assert check is not None
    assert check.outcome is RuleOutcome.STABILISED


def test_a_scale_up_held_by_the_rate_policy_needs_the_hpa_to_say_so() -> None:
    limited = HpaCondition("ScalingLimited", "True", "ScaleUpLimit")
    said = check_rule(settled(status(3, 6, rps(300.0), conditions=(limited,))))
    silent = check_rule(settled(status(3, 6, rps(300.0))))
    assert said is not None
    assert said.outcome is RuleOutcome.RATE_LIMITED
    assert silent is not None
    assert silent.outcome is RuleOutcome.MISMATCH


def test_moving_or_blind_samples_are_not_judged() -> None:
    moving = HpaSample(1.0, status(5, 5, rps(120.0)), 3, 4, 5)
    assert check_rule(moving) is None
    assert check_rule(settled(None)) is None
    assert check_rule(settled(status(3, 3, rps(None)))) is None


def test_judge_rule_counts_outcomes() -> None:
    samples = [
        settled(status(3, 3, rps(40.0))),
        settled(status(3, 5, rps(120.0))),
        settled(status(3, 8, rps(120.0))),
        HpaSample(2.0, status(5, 5, rps(70.0)), 3, 5, 5),
    ]
    summary = judge_rule(samples)
    assert len(summary.checks) == 3
    assert len(summary.scaling) == 2
    assert [c.desired for c in summary.mismatches] == [8]
    assert summary.count(RuleOutcome.MATCH) == 2


def test_decisions_right_after_the_pods_changed_wait_for_the_metrics() -> None:
    # A fourth pod is Ready but has no metrics yet: the HPA averaged 3 pods and kept 4.
    early = [
        settled(status(3, 4, rps(120.0)), at_s=0.0),
        settled(status(4, 4, rps(97.667)), at_s=1.0),
        settled(status(4, 4, rps(97.667)), at_s=2.0),
        settled(status(4, 4, rps(70.0)), at_s=6.5),
    ]
    assert [c.outcome for c in judge_rule(early).checks][1] is RuleOutcome.MISMATCH
    waited = judge_rule(early, settle_s=5.0)
    assert [(c.at_s, c.outcome) for c in waited.checks] == [(6.5, RuleOutcome.MATCH)]
    moving = [*early[:2], HpaSample(3.0, status(4, 4, rps(90.0)), 3, 4, 4), early[3]]
    assert judge_rule(moving, settle_s=5.0).checks == ()  # settled again only from 6.5 s


def test_range_breaches_and_peak_pressure() -> None:
    samples = [
        settled(status(3, 3, rps(40.0), cpu(35))),
        settled(status(10, 11, rps(100.0), cpu(20))),
        HpaSample(3.0, None, 2, 2, 3),  # starting pods below the floor are not a breach
    ]
    assert range_breaches(samples, 3, 10) == ["desired 11 outside 3..10 at t=1.0s"]
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
