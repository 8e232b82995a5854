"""A toy fault for plugin tests: a flag file that goes down, with time kept by a FakeClock.

Copied into the pytester directory as `toyfault.py`. Its rollback is a `restore-file` entry for
`<name>.flag`, so `drills rollback` can undo it from another process.
"""

from __future__ import annotations

from pathlib import Path

from drills import Drill, FakeClock, RollbackEntry
from drills.faults.registry import restore_file_entry


class FlipFlag:
    """Writes `down` into `<name>.flag`; the service is back `outage_s` later on the fake clock."""

    kind = "restore-file"

    def __init__(self, name: str, clock: FakeClock, outage_s: float) -> None:
        self.path = Path(f"{name}.flag").resolve()
        self.clock, self.outage_s = clock, outage_s
        self.back_at = float("inf")
        self.target = str(self.path)

    def describe(self) -> str:
        return f"flip {self.path.name} to down for {self.outage_s:g}s"

    def rollback_entry(self) -> RollbackEntry:
        return restore_file_entry(self.path, "up")

    def apply(self) -> None:
        self.path.write_text("down")
        self.back_at = self.clock.now() + self.outage_s

    def rollback(self) -> None:
        self.path.write_text("up")
        Path(f"{self.path.stem}.rolled-back").write_text("yes")

    def healthy(self) -> bool:
        return self.clock.now() >= self.back_at


def break_and_recover(drill: Drill, fault: FlipFlag) -> None:
    drill.expect_steady_state(lambda: True, stable_for_s=0)
    with drill.step("Break the flag"):
        drill.inject(fault)
    with drill.step("Wait for recovery"):
        drill.await_recovery(fault.healthy, timeout_s=600)
