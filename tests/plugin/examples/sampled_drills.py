"""Toy drills with timeline samples, copied into a pytester directory as `test_sampled.py`."""

from __future__ import annotations

import pytest
from toyfault import FlipFlag, break_and_recover

from drills import Drill, FakeClock

BASELINE_S = 5.0


def _baseline(drill: Drill, clock: FakeClock) -> None:
    with drill.step("Observe the baseline"):
        clock.advance(BASELINE_S)


def _traffic(drill: Drill, outage_s: float) -> None:
    """Samples a probe would publish: traffic fails during the outage, one replica is lost."""
    for t in range(int(BASELINE_S + outage_s + 10)):
        at, down = drill.started_s + t, BASELINE_S <= t < BASELINE_S + outage_s
        drill.record_samples("requests ok/s", [(at, 5.0 if down else 50.0)])
        drill.record_samples("requests failed/s", [(at, 45.0 if down else 0.0)])
        drill.record_samples("p95 latency ms", [(at, 900.0 if down else 40.0)])
        drill.record_samples("replicas ready", [(at, 2.0 if down else 3.0)])


@pytest.mark.drill(id="sampled-pass", runbook="§9.1", service="shop", severity="P1")
def test_sampled_passes(drill: Drill, drill_clock: FakeClock) -> None:
    _baseline(drill, drill_clock)
    break_and_recover(drill, FlipFlag("sampled", drill_clock, outage_s=20))
    drill.record_figure("error ratio", 0.004, "ratio", target=0.01)
    _traffic(drill, outage_s=20)
    drill.assert_rto()


@pytest.mark.drill(id="sampled-fail", runbook="§9.2", service="shop", severity="P2", rto="15s")
def test_sampled_breaches(drill: Drill, drill_clock: FakeClock) -> None:
    _baseline(drill, drill_clock)
    break_and_recover(drill, FlipFlag("breach", drill_clock, outage_s=30))
    _traffic(drill, outage_s=30)
    with drill.step("Confirm the error budget"):
        raise AssertionError("error budget spent: 31% of requests failed")


@pytest.mark.drill(id="no-samples", runbook="§9.3", service="shop", severity="P3")
def test_without_samples(drill: Drill, drill_clock: FakeClock) -> None:
    break_and_recover(drill, FlipFlag("quiet", drill_clock, outage_s=5))
    drill.assert_rto()
