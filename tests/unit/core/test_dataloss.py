from drills.core.dataloss import AcknowledgedWrite, compare_ledger


def _writes(*at: float) -> list[AcknowledgedWrite]:
    return [AcknowledgedWrite(f"k{i}", t, f"h{i}") for i, t in enumerate(at)]


def test_nothing_missing_is_rpo_zero() -> None:
    writes = _writes(1, 2, 3)
    report = compare_ledger(writes, {w.key: (w.payload_hash, 1) for w in writes}, fault_at_s=3.5)
    assert (report.rpo_s, report.lost, report.acknowledged) == (0.0, 0, 3)


def test_rpo_spans_oldest_missing_to_last_acknowledged_before_fault() -> None:
    writes = _writes(10, 20, 30, 40, 50)  # fault at 45: k4 came after it
    present = {"k0": ("h0", 1), "k1": ("h1", 1), "k4": ("h4", 1)}
    report = compare_ledger(writes, present, fault_at_s=45)
    assert report.missing == ("k2", "k3")
    assert report.oldest_missing_s == 30
    assert report.last_acknowledged_before_fault_s == 40
    assert report.rpo_s == 10


def test_writes_lost_after_the_fault_count_but_do_not_stretch_rpo() -> None:
    writes = _writes(10, 50)
    report = compare_ledger(writes, {"k0": ("h0", 1)}, fault_at_s=45)
    assert (report.lost, report.rpo_s) == (1, 0.0)


def test_duplicates_unexpected_and_altered_rows_are_reported() -> None:
    writes = _writes(1, 2)
    present = {"k0": ("h0", 2), "k1": ("other", 1), "stray": ("x", 1), "seed": ("s", 1)}
    report = compare_ledger(writes, present, fault_at_s=5, expected_extra=["seed"])
    assert report.duplicates == ("k0",)
    assert report.changed == ("k1",)
    assert report.unexpected == ("stray",)
    assert report.lost == 1
