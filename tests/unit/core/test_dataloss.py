from drills.core.dataloss import (
    AcknowledgedWrite,
    LedgerLimits,
    compare_ledger,
    extra_rows_breaches,
    judge_rpo,
)
from drills.core.objectives import Objective, ObjectiveKind, Verdict

RPO_5M = Objective(ObjectiveKind.RPO, "shop", 300.0)


def _writes(*at: float) -> list[AcknowledgedWrite]:
    return [AcknowledgedWrite(f"k{i}", t, f"h{i}") for i, t in enumerate(at)]


def _all_present(writes: list[AcknowledgedWrite]) -> dict[str, tuple[str, int]]:
    return {w.key: (w.payload_hash, 1) for w in writes}


def test_nothing_missing_is_rpo_zero() -> None:
    writes = _writes(1, 2, 3)
    report = compare_ledger(writes, _all_present(writes), fault_at_s=3.5)
    assert (report.rpo_s, report.lost, report.acknowledged) == (0.0, 0, 3)
    assert report.acknowledged_before_fault == 3
    assert judge_rpo(RPO_5M, report).verdict is Verdict.PASS


def test_rpo_spans_oldest_lost_write_up_to_the_fault() -> None:
    writes = _writes(10, 20, 30, 40, 50)  # fault at 45: k4 came after it
    present = {"k0": ("h0", 1), "k1": ("h1", 1), "k4": ("h4", 1)}
    report = compare_ledger(writes, present, fault_at_s=45)
    assert report.missing == ("k2", "k3")
    assert report.oldest_lost_s == 30
    assert report.last_acknowledged_before_fault_s == 40
    assert report.rpo_s == 15  # 30 .. the fault at 45, not .. the last write at 40


def test_losing_only_the_newest_write_before_the_fault_is_not_a_zero_span() -> None:
    writes = _writes(10, 20, 30)
    present = _all_present(writes[:2])
    report = compare_ledger(writes, present, fault_at_s=31)
    assert report.rpo_s == 1.0  # it used to read 0.0: "nothing lost"
    assert report.lost == 1


def test_an_empty_ledger_proves_nothing() -> None:
    report = compare_ledger([], {"seed": ("s", 1)}, fault_at_s=45, expected_extra=["seed"])
    assert report.rpo_s is None
    judged = judge_rpo(RPO_5M, report)
    assert judged.verdict is Verdict.COULD_NOT_VERIFY
    assert "no write was acknowledged before the fault" in judged.detail


def test_writes_only_after_the_fault_prove_nothing_about_it() -> None:
    writes = _writes(50, 60)
    report = compare_ledger(writes, _all_present(writes), fault_at_s=45)
    assert report.rpo_s is None
    assert judge_rpo(RPO_5M, report).verdict is Verdict.COULD_NOT_VERIFY


def test_a_row_changed_after_its_acknowledgement_is_lost_and_widens_the_span() -> None:
    writes = _writes(10, 20, 30)
    present = {"k0": ("altered", 1), "k1": ("h1", 1), "k2": ("h2", 1)}
    report = compare_ledger(writes, present, fault_at_s=35)
    assert report.changed == ("k0",)
    assert report.lost == 1
    assert report.oldest_lost_s == 10
    assert report.rpo_s == 25


def test_writes_lost_after_the_fault_count_but_do_not_stretch_the_span() -> None:
    writes = _writes(10, 50)
    report = compare_ledger(writes, {"k0": ("h0", 1)}, fault_at_s=45)
    assert (report.lost, report.lost_after_fault, report.rpo_s) == (1, 1, 0.0)
    assert judge_rpo(RPO_5M, report).verdict is Verdict.PASS


def test_any_loss_fails_a_zero_target_or_a_lossless_fault_and_names_the_writes() -> None:
    writes = _writes(10, 50)
    report = compare_ledger(writes, {"k0": ("h0", 1)}, fault_at_s=45)
    zero = judge_rpo(Objective(ObjectiveKind.RPO, "shop", 0.0), report)
    assert zero.verdict is Verdict.FAIL
    lossless = judge_rpo(RPO_5M, report, lossless=True)
    assert lossless.verdict is Verdict.FAIL
    assert "1 of 2 acknowledged writes lost" in lossless.detail
    assert "k1" in lossless.detail
    assert "touches no data" in lossless.detail


def test_a_span_beyond_the_target_fails() -> None:
    writes = _writes(10, 400)
    report = compare_ledger(writes, {"k1": ("h1", 1)}, fault_at_s=401)
    judged = judge_rpo(RPO_5M, report)
    assert (judged.verdict, judged.measured_s) == (Verdict.FAIL, 391.0)


def test_duplicates_unexpected_and_altered_rows_are_reported() -> None:
    writes = _writes(1, 2)
    present = {"k0": ("h0", 2), "k1": ("other", 1), "stray": ("x", 1), "seed": ("s", 3)}
    report = compare_ledger(writes, present, fault_at_s=5, expected_extra=["seed"])
    assert report.duplicates == ("k0",)  # the seed row's copies are not this drill's
    assert report.changed == ("k1",)
    assert report.unexpected == ("stray",)
    assert report.lost == 1


def test_duplicates_and_unexpected_rows_are_judged_against_the_limits() -> None:
    writes = _writes(*range(200))
    present = _all_present(writes)
    present["k0"] = ("h0", 2)
    present.update({"stray1": ("x", 1), "stray2": ("y", 1)})
    report = compare_ledger(writes, present, fault_at_s=300)
    default = extra_rows_breaches(report, LedgerLimits())
    assert len(default) == 1  # 1 duplicate > 0; 2 unexpected <= 1 % of 200
    assert "stored more than once (limit 0; e.g. k0)" in default[0]
    strict = extra_rows_breaches(report, LedgerLimits(max_duplicates=1, max_unexpected_ratio=0))
    assert len(strict) == 1
    assert "2 rows no acknowledged write explains (limit 0" in strict[0]
    assert extra_rows_breaches(report, LedgerLimits(1, 0.01)) == []
