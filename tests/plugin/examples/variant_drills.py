"""A toy drill with variants, copied into a project's scenarios/ as `test_variants.py`."""

from __future__ import annotations

import pytest
from toyfault import FlipFlag, break_and_recover

from drills import Drill, FakeClock

OUTAGES_S = {"short": 5, "long": 40}  # the profile's shop RTO is 15m: both pass


@pytest.mark.drill(
    id="toy-variants", runbook="§9.4", service="shop", severity="P2", variants=("short", "long")
)
def test_variants(drill: Drill, drill_clock: FakeClock, drill_variant: str) -> None:
    drill.say(f"variant {drill_variant}")
    break_and_recover(
        drill, FlipFlag(drill_variant, drill_clock, outage_s=OUTAGES_S[drill_variant])
    )
    drill.record_figure(
        "outage", float(OUTAGES_S[drill_variant]), "s", no_target="what the variant injected"
    )
    drill.assert_rto()
