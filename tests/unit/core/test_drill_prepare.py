"""Drill.prepare: a set-up recorded like a fault's rollback, but no fault and no RTO clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.clock import FakeClock
from drills.core.drill import DefaultWaits, Drill, DrillSpec
from drills.core.errors import DrillError
from drills.core.events import DrillEvents
from drills.core.objectives import Objective, ObjectiveKind, Verdict
from drills.core.safety import RollbackEntry, RollbackLedger


class Setup:
    """A change whose apply checks that its rollback was on disk first."""

    kind, target = "toy-setup", "default/secret/shop-database"

    def __init__(self, ledger: RollbackLedger, *, fail: bool = False) -> None:
        self.ledger, self.fail = ledger, fail
        self.applied = self.undone = 0
        self.entry = RollbackEntry(self.kind, self.target, {"name": "x"})

    def describe(self) -> str:
        return "set the toy up"

    def rollback_entry(self) -> RollbackEntry:
        return self.entry

    def apply(self) -> None:
        assert [e.entry_id for e in self.ledger.pending()] == [self.entry.entry_id]
        if self.fail:
            raise RuntimeError("API said no")
        self.applied += 1

    def rollback(self) -> None:
        self.undone += 1


def _drill(tmp_path: Path, *, dry_run: bool = False, said: list[str] | None = None) -> Drill:
    spec = DrillSpec(
        "toy",
        "§3.14",
        "shop",
        objectives=(Objective(ObjectiveKind.RTO, "shop", 900.0),),
        waits=DefaultWaits(stability_window_s=0, poll_s=1),
        dry_run=dry_run,
    )
    ledger = RollbackLedger(tmp_path / "rollbacks.jsonl")
    sink = said if said is not None else []
    return Drill(spec, clock=FakeClock(), events=DrillEvents(), ledger=ledger, say=sink.append)


def test_a_preparation_is_undone_with_the_faults_without_starting_the_rto(tmp_path: Path) -> None:
    drill = _drill(tmp_path)
    setup = Setup(drill.ledger)
    with drill:
        drill.prepare(setup)
        assert drill.fault_at_s is None
    assert drill.record is not None
    assert (setup.applied, setup.undone) == (1, 1)
    assert drill.record.faults == ()
    assert [(r.kind, r.outcome) for r in drill.record.rollbacks] == [("toy-setup", "done")]
    assert drill.ledger.pending() == []


def test_a_preparation_that_breaks_is_an_error_and_still_rolled_back(tmp_path: Path) -> None:
    drill = _drill(tmp_path)
    setup = Setup(drill.ledger, fail=True)
    with pytest.raises(DrillError, match="preparing 'set the toy up' broke: RuntimeError"), drill:
        drill.prepare(setup)
    assert drill.record is not None
    assert drill.record.verdict is Verdict.ERROR
    assert setup.undone == 1


def test_a_dry_run_prints_the_preparation_and_acts_on_nothing(tmp_path: Path) -> None:
    said: list[str] = []
    drill = _drill(tmp_path, dry_run=True, said=said)
    setup = Setup(drill.ledger)
    with drill:
        drill.prepare(setup)
    assert said[0] == "[dry-run] would prepare: set the toy up"
    assert (setup.applied, setup.undone) == (0, 0)
    assert drill.ledger.pending() == []
