"""The write ledger: durable JSON lines, torn tails, comparison through a port."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.clock import FakeClock
from drills.core.dataloss import payload_hash, verify_ledger
from drills.core.errors import DrillError
from drills.load.ledger import WriteLedger, read_ledger


class Orders:
    def __init__(self, present: dict[str, tuple[str, int]] | None, error: str = "") -> None:
        self.present, self.error = present, error

    def orders_present(self) -> dict[str, tuple[str, int]]:
        if self.present is None:
            raise DrillError(self.error)
        return self.present


def test_records_survive_and_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = WriteLedger(path, fsync=False)
    ledger.record("a", 1.0, "h1")
    ledger.record("b", 2.0, "h2")
    ledger.close()
    with path.open("a") as handle:
        handle.write('{"key": "c", "at_')  # the writer died mid-line
    assert [w.key for w in read_ledger(path)] == ["a", "b"]


def test_a_corrupt_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text('garbage\n{"key": "a", "at_s": 1, "payload_hash": "h"}\n')
    with pytest.raises(DrillError, match=":1: unreadable"):
        read_ledger(path)


def test_missing_ledger_says_what_to_check(tmp_path: Path) -> None:
    with pytest.raises(DrillError, match="no write ledger"):
        read_ledger(tmp_path / "absent.jsonl")


def test_verification_measures_rpo_and_could_not_verify(tmp_path: Path) -> None:
    ledger = WriteLedger(tmp_path / "l.jsonl", fsync=False)
    for index in range(5):
        ledger.record(f"k{index}", 10.0 + index, payload_hash(f"k{index}", "w", 1))
    present = {f"k{i}": (payload_hash(f"k{i}", "w", 1), 1) for i in (0, 1, 4)}
    present["stray"] = ("x", 1)
    checked = verify_ledger(ledger.writes(), Orders(present), fault_at_s=13.5, clock=FakeClock())
    assert checked.report is not None
    assert checked.report.missing == ("k2", "k3")
    assert checked.report.rpo_s == 1.5  # oldest missing 12.0 .. the fault at 13.5
    assert checked.report.unexpected == ("stray",)
    assert checked.rows_checked == 9
    failed = verify_ledger(
        ledger.writes(),
        Orders(None, "relation orders does not exist"),
        fault_at_s=0.0,
        clock=FakeClock(),
    )
    assert failed.report is None
    assert "does not exist" in (failed.error or "")
