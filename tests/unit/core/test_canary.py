"""The canary ledger's pure parts: names, hashes, the ledger entries and the longest gap."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.core.canary import (
    CANARY_TABLE_PREFIX,
    CanaryAttempt,
    CanarySettings,
    acknowledged_writes,
    canary_hash,
    canary_key,
    canary_table,
    failed_attempts,
    longest_gap,
)
from drills.core.dataloss import compare_ledger
from drills.core.errors import ConfigError
from drills.core.profile import load_profile


@given(st.text(max_size=200))
def test_the_table_name_is_always_a_prefixed_safe_identifier(run_id: str) -> None:
    name = canary_table(run_id)
    assert name.startswith(CANARY_TABLE_PREFIX)
    assert len(name) <= 63
    assert all(c.islower() or c.isdigit() or c == "_" for c in name)


def test_keys_sort_like_their_numbers_and_hashes_bind_the_table() -> None:
    assert sorted([canary_key(10), canary_key(9)]) == [canary_key(9), canary_key(10)]
    assert canary_hash("drills_canary_a", 1) != canary_hash("drills_canary_b", 1)


def _attempts(*spec: tuple[float, bool]) -> list[CanaryAttempt]:
    return [CanaryAttempt(i + 1, at, ok) for i, (at, ok) in enumerate(spec)]


def test_only_committed_canaries_become_ledger_entries() -> None:
    attempts = _attempts((1.0, True), (1.1, False), (1.2, True))
    writes = acknowledged_writes("t", attempts)
    assert [w.key for w in writes] == [canary_key(1), canary_key(3)]
    assert [a.seq for a in failed_attempts(attempts)] == [2]


def test_the_longest_gap_spans_the_failures_between_two_commits() -> None:
    attempts = _attempts((1.0, True), (1.1, False), (2.0, False), (3.5, True), (3.6, True))
    gap = longest_gap(attempts, ended_s=3.7)
    assert gap is not None
    assert (gap.start_s, gap.end_s, gap.failed) == (1.0, 3.5, 2)
    assert gap.duration_s == pytest.approx(2.5)


def test_a_database_that_never_came_back_gaps_until_the_writer_stopped() -> None:
    gap = longest_gap(_attempts((1.0, True), (1.1, False), (1.2, False)), ended_s=9.0)
    assert gap is not None
    assert (gap.start_s, gap.end_s, gap.failed) == (1.0, 9.0, 2)


def test_no_attempt_means_no_gap_at_all() -> None:
    assert longest_gap([], ended_s=5.0) is None


@given(st.lists(st.tuples(st.floats(0, 100), st.booleans()), min_size=1, max_size=50))
def test_the_gap_is_never_negative_and_never_outside_the_run(
    spec: list[tuple[float, bool]],
) -> None:
    attempts = _attempts(*sorted(spec))
    gap = longest_gap(attempts, ended_s=100.0)
    assert gap is not None
    assert gap.duration_s >= 0
    assert attempts[0].at_s <= gap.start_s <= gap.end_s <= 100.0


def test_a_restore_from_before_the_fault_loses_the_canaries_after_it() -> None:
    table = "drills_canary_x"
    attempts = _attempts(*((0.05 * i, True) for i in range(1, 41)))  # 2 s at 20/s
    snapshot_seq = 20  # the restore holds 1..20 (written up to 1.0 s)
    present = {canary_key(s): (canary_hash(table, s), 1) for s in range(1, snapshot_seq + 1)}
    report = compare_ledger(acknowledged_writes(table, attempts), present, fault_at_s=1.5)
    assert report.missing[0] == canary_key(21)
    assert report.rpo_s == pytest.approx(1.5 - 21 * 0.05)
    assert report.lost_after_fault == 10  # 31..40 came after the fault at 1.5 s


def test_the_profile_section_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[canary]\nrate_per_s = 5\nenabled = false\n", encoding="utf-8")
    assert load_profile(path).canary == CanarySettings(enabled=False, rate_per_s=5.0)
    assert CanarySettings(rate_per_s=5.0).interval_s == pytest.approx(0.2)
    path.write_text("[canary]\nrate_per_s = 1000\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"canary\.rate_per_s.*between 0\.1 and 200"):
        load_profile(path)
    path.write_text("[canary]\nrate = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="rate"):
        load_profile(path)
