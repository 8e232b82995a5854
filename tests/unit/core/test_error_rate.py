"""The HighErrorRate rule (RUNBOOKS.md §3.11) on a user-side request stream, exact times."""

from __future__ import annotations

import pytest

from drills.core.error_rate import (
    ErrorRateSettings,
    errors_by_endpoint,
    first_firing,
    ratio_in_window,
)


def _stream(
    start_s: float, end_s: float, *, every_s: float, fail_every: int
) -> list[tuple[float, bool]]:
    """One request each `every_s`; every `fail_every`-th fails (0: none)."""
    out: list[tuple[float, bool]] = []
    n = 0
    while start_s + n * every_s < end_s - 1e-9:
        at = round(start_s + n * every_s, 6)
        n += 1
        out.append((at, not (fail_every and n % fail_every == 0)))
    return out


def test_the_window_counts_requests_after_its_start_up_to_its_end() -> None:
    times = [1.0, 2.0, 3.0, 4.0]
    failed = [True, False, True, False]
    assert ratio_in_window(times, failed, at_s=4.0, window_s=2.0) == (1, 2)  # 3.0 and 4.0
    assert ratio_in_window(times, failed, at_s=0.5, window_s=2.0) == (0, 0)


def test_a_ten_percent_release_fires_the_critical_line_one_window_plus_for_after_it_starts() -> (
    None
):
    healthy = _stream(0.0, 10.0, every_s=0.1, fail_every=0)
    broken = _stream(10.0, 30.0, every_s=0.1, fail_every=10)
    fired = first_firing(
        healthy + broken, threshold=0.05, window_s=3.0, for_s=3.0, since_s=10.0, until_s=30.0
    )
    # The release fails one request a second (10.9, 11.9, ...): at 12.0 the 3 s window holds
    # two failures in 30 requests (6.7%, over 5%) and stays over; pending from 12.0, firing at 15.0.
    assert fired == 15.0


def test_a_share_fires_only_where_the_window_keeps_it_over_the_line() -> None:
    stream = _stream(0.0, 30.0, every_s=0.1, fail_every=50)  # 2%
    assert (
        first_firing(stream, threshold=0.05, window_s=3.0, for_s=3.0, since_s=0.0, until_s=30.0)
        is None
    )
    # A 3 s window holds one failure for 2.5 s of every 5 s: pending, never for 3 s.
    assert (
        first_firing(stream, threshold=0.01, window_s=3.0, for_s=3.0, since_s=0.0, until_s=30.0)
        is None
    )
    # A 10 s window always holds one failure or two: the 1% warning is pending from 5.0 (first
    # failure at 4.9) and fires at 8.0.
    fired = first_firing(
        stream, threshold=0.01, window_s=10.0, for_s=3.0, since_s=0.0, until_s=30.0
    )
    assert fired == 8.0


def test_a_dip_under_the_line_resets_the_pending_alert() -> None:
    burst = [(1.0 + i * 0.1, False) for i in range(10)]  # ten failures in 1.0..1.9
    quiet = [(2.0 + i * 0.1, True) for i in range(80)]  # then healthy until 9.9
    fired = first_firing(
        burst + quiet, threshold=0.05, window_s=1.0, for_s=2.0, since_s=0.0, until_s=10.0
    )
    assert fired is None  # over the line 1.0..2.5 only, shorter than `for`


def test_a_window_without_requests_is_no_evidence() -> None:
    fired = first_firing(
        [(0.5, False)], threshold=0.05, window_s=1.0, for_s=2.0, since_s=0.0, until_s=10.0
    )
    assert fired is None


def test_nonsense_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="above zero"):
        first_firing([], threshold=0.05, window_s=0.0, for_s=1.0, since_s=0.0, until_s=1.0)


def test_errors_by_endpoint_ranks_the_worst_first_with_statuses() -> None:
    requests = [
        (0.5, "POST /orders", 500, False),  # before the fault: not counted
        (1.0, "POST /orders", 201, True),
        (1.1, "POST /orders", 500, False),
        (1.2, "GET /orders/{key}", 500, False),
        (1.3, "GET /orders/{key}", 500, False),
        (1.4, "GET /orders/{key}", 0, False),
        (1.5, "GET /orders/{key}", 200, True),
        (1.6, "GET /healthz", 200, True),
    ]
    found = errors_by_endpoint(requests, since_s=1.0)
    assert [e.endpoint for e in found] == ["GET /orders/{key}", "POST /orders", "GET /healthz"]
    assert found[0].describe() == "GET /orders/{key}: 3 of 4 failed (75.0%; 500 x2, 0 x1)"
    assert found[1].describe() == "POST /orders: 1 of 2 failed (50.0%; 500 x1)"
    assert found[2].describe() == "GET /healthz: 0 of 1 failed (0.0%)"


def test_the_settings_scale_the_seeds_window_and_list_the_lines() -> None:
    settings = ErrorRateSettings(window_s=300.0, window_scale=0.01)
    assert settings.effective_window_s == 3.0
    assert [line.ratio for line in settings.lines()] == [0.05, 0.01, 0.001]
    assert "[002]" in settings.lines()[0].source
