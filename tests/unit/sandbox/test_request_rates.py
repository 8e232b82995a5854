"""Per-pod request rates over a sliding window, on a FakeClock."""

from __future__ import annotations

import pytest

from drills.core.clock import FakeClock
from drills.sandbox.node.request_rates import RequestRates

A, B = ("default", "shop-a"), ("default", "shop-b")


def hits(rates: RequestRates, clock: FakeClock, pod: tuple[str, str], count: int) -> None:
    """`count` requests spread evenly over the next second (a power of two keeps it exact)."""
    for _ in range(count):
        clock.advance(1.0 / count)
        rates.record(pod)


def test_a_steady_pod_reads_its_rate_over_the_window() -> None:
    clock = FakeClock()
    rates = RequestRates(window_s=5.0, clock=clock)
    rates.serving([A])
    for _ in range(10):
        hits(rates, clock, A, 64)
    assert rates.rates([A])[A] == 64.0


def test_a_young_pod_is_divided_by_the_time_it_was_seen_not_the_whole_window() -> None:
    clock = FakeClock()
    rates = RequestRates(window_s=5.0, clock=clock)
    rates.serving([A])
    clock.advance(10)
    rates.serving([A, B])
    for _ in range(2):
        hits(rates, clock, B, 64)
    assert rates.rates([A, B]) == {A: 0.0, B: 64.0}


def test_the_minimum_span_keeps_a_first_burst_from_reading_high() -> None:
    clock = FakeClock()
    rates = RequestRates(window_s=5.0, min_span_s=1.0, clock=clock)
    for _ in range(5):
        rates.record(A)
    clock.advance(0.1)
    assert rates.rates()[A] == pytest.approx(5.0)


def test_an_idle_serving_pod_reads_zero_and_a_gone_pod_fades_then_is_forgotten() -> None:
    clock = FakeClock()
    rates = RequestRates(window_s=5.0, clock=clock)
    rates.serving([A, B])
    hits(rates, clock, A, 32)
    assert rates.rates([A, B]) == {A: 32.0, B: 0.0}
    clock.advance(3.0)
    assert rates.rates([B]) == {A: 8.0, B: 0.0}
    clock.advance(2.0)
    assert rates.rates([B]) == {B: 0.0}


def test_requests_older_than_the_window_drop_out_exactly() -> None:
    clock = FakeClock()
    rates = RequestRates(window_s=5.0, clock=clock)
    rates.serving([A])
    rates.record(A)
    clock.advance(4.999)
    assert rates.rates([A])[A] == pytest.approx(1 / 4.999)
    clock.advance(0.001)
    assert rates.rates([A])[A] == 0.0


def test_pods_not_served_are_forgotten_even_when_nobody_reads_rates() -> None:
    clock = FakeClock()
    rates = RequestRates(window_s=5.0, clock=clock)
    rates.serving([A])
    clock.advance(6.0)
    rates.serving([B])
    assert rates.rates([B]) == {B: 0.0}


def test_nonsense_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="window_s"):
        RequestRates(window_s=0)
    with pytest.raises(ValueError, match="min_span_s"):
        RequestRates(window_s=1.0, min_span_s=2.0)
