"""Toy drills copied into a pytester directory as `test_toy.py`: PASS, FAIL, COULD_NOT_VERIFY."""

from __future__ import annotations

import pytest
from toyfault import FlipFlag, break_and_recover

from drills import Drill, FakeClock


@pytest.mark.drill(id="toy-pass", runbook="§9.1", service="shop", severity="P1")
def test_passes(drill: Drill, drill_clock: FakeClock) -> None:
    break_and_recover(drill, FlipFlag("pass", drill_clock, outage_s=20))
    drill.assert_rto()


@pytest.mark.drill(id="toy-slow", runbook="§9.2", service="shop", severity="P2", rto="15s")
def test_breaches_rto(drill: Drill, drill_clock: FakeClock) -> None:
    break_and_recover(drill, FlipFlag("slow", drill_clock, outage_s=10))
    drill.assert_rto()


@pytest.mark.drill(id="toy-unknown", runbook="§9.3", service="shop", severity="P3")
def test_cannot_verify(drill: Drill) -> None:
    drill.expect_steady_state(lambda: False, timeout_s=5, stable_for_s=0)
