"""A stand-in for `pod-kill-under-load` (its id, so the preflight asks for its permissions).

Its fault is the toy flag file: when the flag `access.flag` exists, a fault acted.
"""

from __future__ import annotations

import pytest
from toyfault import FlipFlag, break_and_recover

from drills import Drill, FakeClock


@pytest.mark.drill(id="pod-kill-under-load", runbook="§3.2", service="shop", severity="P1")
def test_pod_kill_stand_in(drill: Drill, drill_clock: FakeClock) -> None:
    break_and_recover(drill, FlipFlag("access", drill_clock, outage_s=5))
    drill.assert_rto()
