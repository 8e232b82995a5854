"""Drills on the real clock whose fault is a local file that never comes back by itself.

`toy-wait` injects, then waits for a recovery that never comes (60 s at most): the halt and
run-lock tests pull the lever, or start a second run, while it waits. `toy-after` would run
next; a halted run must never start it. The rollback writes `<name>.rolled-back`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drills import Drill, RollbackEntry
from drills.core.clock import SystemClock
from drills.faults.registry import restore_file_entry


@pytest.fixture
def drill_clock() -> SystemClock:
    return SystemClock()


class DownFile:
    """Writes `down` into `<name>.flag`; its rollback writes `up` back."""

    kind = "restore-file"

    def __init__(self, name: str) -> None:
        self.path = Path(f"{name}.flag").resolve()
        self.target = str(self.path)

    def describe(self) -> str:
        return f"flip {self.path.name} to down until rolled back"

    def rollback_entry(self) -> RollbackEntry:
        return restore_file_entry(self.path, "up")

    def apply(self) -> None:
        self.path.write_text("down")

    def rollback(self) -> None:
        self.path.write_text("up")
        self.path.with_suffix(".rolled-back").write_text("yes")


@pytest.mark.drill(id="toy-wait", runbook="§9.8", service="shop", severity="P1")
def test_waits_for_a_recovery_that_never_comes(drill: Drill) -> None:
    with drill.step("Break the flag"):
        drill.inject(DownFile("wait"))
    with drill.step("Wait for recovery"):
        drill.await_recovery(lambda: False, timeout_s=60)


@pytest.mark.drill(id="toy-after", runbook="§9.9", service="shop", severity="P2")
def test_runs_after_the_waiting_drill(drill: Drill) -> None:
    with drill.step("Break the other flag"):
        drill.inject(DownFile("after"))
