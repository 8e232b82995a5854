"""The PITR drill's "Promote" step: out of recovery is not enough, a write must go through."""

from __future__ import annotations

import pytest

from drills.core.errors import RecoveryStepMissing
from drills.recovery.pitr import confirm_promotion
from drills.targets.ports.data import RecoveryStatus

READ_ONLY = "cannot execute INSERT in a read-only transaction"


class Recovered:
    name = "restored"

    def __init__(self, *, in_recovery: bool, writable: bool) -> None:
        self.in_recovery, self.writable = in_recovery, writable

    def recovery_status(self) -> RecoveryStatus:
        return RecoveryStatus(self.in_recovery, 2, None, None)

    def accepts_writes(self) -> tuple[bool, str]:
        return (True, "wrote and read back a check order") if self.writable else (False, READ_ONLY)


def test_a_promoted_instance_that_takes_a_write_is_confirmed() -> None:
    check = confirm_promotion(Recovered(in_recovery=False, writable=True))  # type: ignore[arg-type]
    assert check.status.timeline == 2
    assert "read back" in check.write_detail


def test_out_of_recovery_but_refusing_writes_fails_the_step() -> None:
    refusing = Recovered(in_recovery=False, writable=False)  # pg_is_in_recovery() alone: "fine"
    with pytest.raises(RecoveryStepMissing, match="does not accept writes: cannot execute"):
        confirm_promotion(refusing)  # type: ignore[arg-type]


def test_still_in_recovery_fails_the_step() -> None:
    with pytest.raises(RecoveryStepMissing, match="still in recovery"):
        confirm_promotion(Recovered(in_recovery=True, writable=False))  # type: ignore[arg-type]
