"""The restore point a destructive statement leaves for PITR: missing means the harness broke."""

from __future__ import annotations

import pytest

from drills.core.clock import FakeClock
from drills.core.errors import DrillError
from drills.core.objectives import Verdict
from drills.core.verdicts import decide
from drills.faults.data import drop_table
from drills.targets.ports.data import RecoveryPoint


class Primary:
    name = "primary"

    def create_restore_point(self, name: str) -> RecoveryPoint:
        return RecoveryPoint(name, "0/1", "2026-01-01T00:00:00Z")

    def execute(self, sql: str) -> int:
        return 0


def test_a_missing_recovery_point_is_a_harness_error_not_a_fail() -> None:
    clock, primary = FakeClock(), Primary()
    fault = drop_table(primary, primary, "orders", clock=clock)  # type: ignore[arg-type]
    with pytest.raises(DrillError, match="no restore point was recorded") as raised:
        fault.recovery_point()  # never applied: PITR has no target
    assert not isinstance(raised.value, AssertionError)
    assert decide([], raised.value)[0] is Verdict.ERROR  # an `assert` here used to mean FAIL
    fault.apply()
    point, point_at_s = fault.recovery_point()
    assert (point.lsn, point_at_s) == ("0/1", clock.now())
