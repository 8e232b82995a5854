"""A drill that injects its fault, says READY and waits for stdin: the test SIGKILLs it there."""

from __future__ import annotations

import sys

import pytest
from toyfault import FlipFlag

from drills import Drill, FakeClock


@pytest.mark.drill(id="toy-hang", runbook="§9.7", service="shop", severity="P1")
def test_hangs_after_injecting(drill: Drill, drill_clock: FakeClock) -> None:
    drill.inject(FlipFlag("hang", drill_clock, outage_s=1))
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    sys.stdin.readline()
