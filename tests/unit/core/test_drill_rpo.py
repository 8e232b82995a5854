"""`Drill.assert_rpo`: what the ledger comparison proves, and the verdict it leads to."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from drills.core.clock import FakeClock
from drills.core.dataloss import AcknowledgedWrite, LedgerLimits, compare_ledger
from drills.core.drill import Drill, DrillSpec
from drills.core.errors import DrillError
from drills.core.events import DrillEvents
from drills.core.journal import DrillRecord
from drills.core.objectives import Objective, ObjectiveKind, Verdict
from drills.core.safety import RollbackLedger

RPO = Objective(ObjectiveKind.RPO, "shop", 300.0)
WRITES = [AcknowledgedWrite(f"k{i}", float(i), f"h{i}") for i in range(10)]


def _present(*keys: str) -> dict[str, tuple[str, int]]:
    return {w.key: (w.payload_hash, 1) for w in WRITES if w.key in keys or not keys}


def _judged(
    tmp_path: Path,
    writes: list[AcknowledgedWrite],
    present: dict[str, tuple[str, int]],
    *,
    lossless: bool = False,
    limits: LedgerLimits | None = None,
) -> DrillRecord:
    spec = DrillSpec("toy", "§3.2", "shop", objectives=(RPO,), ledger=limits or LedgerLimits())
    drill = Drill(
        spec,
        clock=FakeClock(),
        events=DrillEvents(),
        ledger=RollbackLedger(tmp_path / "rollbacks.jsonl"),
    )
    with contextlib.suppress(DrillError), drill:
        drill.assert_rpo(compare_ledger(writes, present, fault_at_s=9.5), lossless=lossless)
    assert drill.record is not None
    return drill.record


def test_a_ledger_that_is_whole_passes_with_its_figures(tmp_path: Path) -> None:
    record = _judged(tmp_path, WRITES, _present())
    assert record.verdict is Verdict.PASS
    figures = {f.name: f.value for f in record.figures}
    assert figures["acknowledged writes"] == 10
    assert figures["acknowledged writes before the fault"] == 10
    assert figures["acknowledged writes lost"] == 0


def test_no_write_acknowledged_before_the_fault_could_not_verify(tmp_path: Path) -> None:
    record = _judged(tmp_path, [], {})  # used to be "RPO measured 0 s -> PASS"
    assert record.verdict is Verdict.COULD_NOT_VERIFY
    assert "no write was acknowledged before the fault" in record.reason
    [rpo] = record.objectives
    assert rpo.measured_s is None


def test_losing_the_newest_write_is_a_span_up_to_the_fault(tmp_path: Path) -> None:
    record = _judged(tmp_path, WRITES, _present(*(f"k{i}" for i in range(9))))
    [rpo] = record.objectives
    assert rpo.measured_s == 0.5  # k9 at 9.0 .. the fault at 9.5
    assert record.verdict is Verdict.PASS  # 0.5 s of loss is inside a 5 min RPO ...


def test_a_lossless_fault_fails_on_any_lost_write_and_names_it(tmp_path: Path) -> None:
    record = _judged(tmp_path, WRITES, _present(*(f"k{i}" for i in range(9))), lossless=True)
    assert record.verdict is Verdict.FAIL  # ... but not when the fault touches no data
    assert record.reason.startswith("RpoBreached: shop RPO")
    assert "1 of 10 acknowledged writes lost" in record.reason
    assert "k9" in record.reason
    lost = next(f for f in record.figures if f.name == "acknowledged writes lost")
    assert (lost.value, lost.target) == (1.0, 0.0)


def test_duplicates_beyond_the_limit_fail_apart_from_the_rpo(tmp_path: Path) -> None:
    present = _present()
    present["k3"] = ("h3", 2)
    record = _judged(tmp_path, WRITES, present)
    assert record.verdict is Verdict.FAIL
    assert record.reason.startswith("LedgerMismatch: 1 acknowledged writes are stored more")
    [rpo] = record.objectives
    assert rpo.verdict is Verdict.PASS  # nothing lost: the RPO itself holds
    dup = next(f for f in record.figures if f.name == "duplicated acknowledged writes")
    assert (dup.value, dup.target) == (1.0, 0.0)
    relaxed = _judged(tmp_path, WRITES, present, limits=LedgerLimits(max_duplicates=1))
    assert relaxed.verdict is Verdict.PASS


@pytest.mark.parametrize(("strays", "verdict"), [(0, Verdict.PASS), (1, Verdict.FAIL)])
def test_unexpected_rows_are_judged_against_their_share(
    tmp_path: Path, strays: int, verdict: Verdict
) -> None:
    present = _present()
    present.update({f"stray{i}": ("x", 1) for i in range(strays)})
    record = _judged(tmp_path, WRITES, present)  # 1 % of 10 acknowledged writes: 0 allowed
    assert record.verdict is verdict
    unexpected = next(f for f in record.figures if f.name == "unexpected rows")
    assert (unexpected.value, unexpected.target) == (float(strays), 0.0)
