"""The bad release's rollback puts the good image back however the drill ends (RUNBOOKS.md §3.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.clock import FakeClock
from drills.core.drill import Drill, DrillSpec
from drills.core.errors import RecoveryStepMissing
from drills.core.events import DrillEvents
from drills.core.journal import StepOutcome
from drills.core.objectives import Objective, ObjectiveKind, Verdict
from drills.core.safety import RollbackLedger
from drills.faults.pods import BadRelease
from tests.fakes import FakeWorkload

SPEC = DrillSpec(
    "crashloop-rollback",
    "RUNBOOKS.md §3.1",
    "shop",
    objectives=(Objective(ObjectiveKind.RTO, "shop", 900.0),),
)


def _drill(tmp_path: Path) -> Drill:
    ledger = RollbackLedger(tmp_path / "rollbacks.jsonl")
    return Drill(SPEC, clock=FakeClock(start_s=0.0), events=DrillEvents(), ledger=ledger)


def _release_then(drill: Drill, shop: FakeWorkload, error: BaseException) -> None:
    """Roll out the bad release inside the drill, then die with `error` in the mitigate step."""
    with drill:
        drill.inject(BadRelease(shop, image="shop:bad"))
        assert shop.container_image() == "shop:bad"
        with drill.step("Mitigate: kubectl rollout undo"):
            raise error


def test_a_drill_that_dies_after_the_release_still_restores_the_good_image(
    tmp_path: Path,
) -> None:
    shop = FakeWorkload(image="shop:1.0.0")
    drill = _drill(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        _release_then(drill, shop, KeyboardInterrupt())  # Ctrl-C before the runbook's undo
    assert shop.container_image() == "shop:1.0.0"
    assert drill.record is not None
    assert [r.outcome for r in drill.record.rollbacks] == ["done"]
    assert drill.record.verdict is Verdict.ERROR
    assert drill.ledger.pending() == []


def test_a_missing_rollback_step_fails_the_step_and_the_drill(tmp_path: Path) -> None:
    shop = FakeWorkload(image="shop:1.0.0")
    drill = _drill(tmp_path)
    with pytest.raises(RecoveryStepMissing):
        _release_then(drill, shop, RecoveryStepMissing("rollout undo had no earlier revision"))
    record = drill.record
    assert record is not None
    assert record.verdict is Verdict.FAIL
    assert [s.outcome for s in record.steps] == [StepOutcome.FAILED]
    assert shop.container_image() == "shop:1.0.0"  # the fault's rollback did what undo could not


def test_undo_by_the_runbook_leaves_the_fault_rollback_nothing_to_do(tmp_path: Path) -> None:
    shop = FakeWorkload(image="shop:1.0.0")
    drill = _drill(tmp_path)
    with drill:
        drill.inject(BadRelease(shop, image="shop:bad"))
        shop.rollout_undo()
    assert shop.container_image() == "shop:1.0.0"
    assert shop.revisions == ["shop:1.0.0", "shop:bad", "shop:1.0.0"]  # no extra rollout
