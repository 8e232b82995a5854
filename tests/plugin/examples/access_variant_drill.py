"""A stand-in for `hpa-spike` and two of its variants (its id, so the preflight asks for them).

Its fault is the toy flag file: when the flag `access.flag` exists, a fault acted.
"""

from __future__ import annotations

import pytest
from toyfault import FlipFlag, break_and_recover

from drills import Drill, FakeClock


@pytest.mark.drill(
    id="hpa-spike",
    runbook="§3.9",
    service="shop",
    severity="P2",
    variants=("healthy", "no-hpa", "no-metrics"),
)
def test_hpa_spike_stand_in(drill: Drill, drill_clock: FakeClock, drill_variant: str) -> None:
    drill.say(f"variant {drill_variant}")
    break_and_recover(drill, FlipFlag("access", drill_clock, outage_s=5))
    drill.assert_rto()
