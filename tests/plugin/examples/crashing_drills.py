"""Toy drills that die after injecting: by exception, by Ctrl-C and by SIGTERM."""

from __future__ import annotations

import os
import signal

import pytest
from toyfault import FlipFlag

from drills import Drill, FakeClock


@pytest.mark.drill(id="toy-crash", runbook="§9.4", service="shop", severity="P1")
def test_exception(drill: Drill, drill_clock: FakeClock) -> None:
    drill.inject(FlipFlag("crash", drill_clock, outage_s=1))
    raise RuntimeError("the harness broke mid-drill")


@pytest.mark.drill(id="toy-interrupt", runbook="§9.5", service="shop", severity="P1")
def test_keyboard_interrupt(drill: Drill, drill_clock: FakeClock) -> None:
    drill.inject(FlipFlag("interrupt", drill_clock, outage_s=1))
    raise KeyboardInterrupt


@pytest.mark.drill(id="toy-term", runbook="§9.6", service="shop", severity="P1")
def test_sigterm(drill: Drill, drill_clock: FakeClock) -> None:
    drill.inject(FlipFlag("term", drill_clock, outage_s=1))
    os.kill(os.getpid(), signal.SIGTERM)
    drill_clock.sleep(1)  # the signal handler raises before or at this line
