"""The regression gate: latest run vs the median of the previous runs of one environment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.core.objectives import Verdict
from drills.core.trend import HistorySettings, RunFigures, judge, judge_all

SETTINGS = HistorySettings(window=3, rto_growth=0.5, rpo_growth=1.0)


def run(  # the facts a test varies; the rest stays fixed
    index: int,
    rto_s: float | None,
    *,
    rpo_s: float | None = 0.0,
    verdict: Verdict = Verdict.PASS,
    environment: str = "staging",
    drill: str = "pod-kill",
) -> RunFigures:
    return RunFigures(
        environment=environment,
        drill=drill,
        run_id=f"r{index}",
        started_at=f"2026-01-01T00:{index:02d}:00+00:00",
        verdict=verdict,
        rto_s=rto_s,
        rto_target_s=900.0,
        rpo_s=rpo_s,
        rpo_target_s=60.0,
    )


def test_the_median_spans_only_the_window_of_previous_runs() -> None:
    # r0 (100s) is outside a window of 3: the median of 10, 12 and 200 is 12, so 19s is +58%
    runs = [run(0, 100.0), run(1, 10.0), run(2, 200.0), run(3, 12.0), run(4, 19.0)]
    trend = judge(runs, SETTINGS)
    assert trend.compared == 3
    assert trend.regressions == (
        "staging · pod-kill: RTO 19.0s in r4 is +58% over the median 12.0s of the previous "
        "3 measured run(s) (threshold +50%)",
    )
    assert judge([*runs[:-1], run(4, 18.0)], SETTINGS).regressions == ()  # exactly +50%


def test_input_order_does_not_matter_the_start_time_does() -> None:
    runs = [run(2, 30.0), run(0, 10.0), run(1, 10.0)]
    trend = judge(runs, SETTINGS)
    assert trend.latest.run_id == "r2"
    assert "RTO 30.0s in r2 is +200% over the median 10.0s" in trend.regressions[0]


def test_fewer_runs_than_the_window_use_what_there_is() -> None:
    trend = judge([run(0, 10.0), run(1, 16.0)], SETTINGS)
    assert trend.compared == 1
    assert trend.regressions == (
        "staging · pod-kill: RTO 16.0s in r1 is +60% over the median 10.0s of the previous "
        "1 measured run(s) (threshold +50%)",
    )


def test_a_first_run_has_nothing_to_compare_with() -> None:
    trend = judge([run(0, 500.0, verdict=Verdict.FAIL)], SETTINGS)
    assert trend.regressions == ()
    assert trend.notes == ("staging · pod-kill: first run (r0), nothing to compare with yet",)


def test_a_lost_pass_is_a_regression_even_when_the_figures_hold() -> None:
    runs = [run(0, 10.0), run(1, 10.0, verdict=Verdict.FAIL)]
    assert judge(runs, SETTINGS).regressions == ("staging · pod-kill: PASS in r0 -> FAIL in r1",)


def test_an_unmeasured_latest_figure_is_not_measured_never_a_regression() -> None:
    runs = [run(0, 10.0), run(1, 10.0), run(2, None, rpo_s=None, verdict=Verdict.PASS)]
    trend = judge(runs, SETTINGS)
    assert trend.regressions == ()
    assert trend.notes == (
        "staging · pod-kill: RTO not measured in r2, so not compared",
        "staging · pod-kill: RPO not measured in r2, so not compared",
    )


def test_unmeasured_earlier_runs_leave_no_baseline_and_say_so() -> None:
    runs = [run(0, None, verdict=Verdict.COULD_NOT_VERIFY), run(1, 500.0)]
    trend = judge(runs, SETTINGS)
    assert trend.regressions == ()
    assert "staging · pod-kill: RTO not measured in the previous 1 run(s)" in trend.notes


def test_unmeasured_runs_inside_the_window_are_left_out_of_the_median() -> None:
    runs = [run(0, 10.0), run(1, None), run(2, 10.0), run(3, 14.0)]
    assert judge(runs, SETTINGS).regressions == ()
    trend = judge([*runs[:-1], run(3, 16.0)], SETTINGS)
    assert "of the previous 2 measured run(s)" in trend.regressions[0]


def test_data_lost_after_none_was_is_a_regression() -> None:
    trend = judge([run(0, 10.0, rpo_s=0.0), run(1, 10.0, rpo_s=4.0)], SETTINGS)
    assert trend.regressions == (
        "staging · pod-kill: RPO 4s in r1 is above the median 0ms of the previous "
        "1 measured run(s) (threshold +100%)",
    )


def test_environments_are_never_compared_with_each_other() -> None:
    runs = [
        run(0, 10.0, environment="sandbox"),
        run(1, 900.0, environment="staging"),
        run(2, 11.0, environment="sandbox"),
        run(3, 880.0, environment="staging"),
    ]
    trends = judge_all(runs, lambda env: SETTINGS)
    assert [(t.environment, t.latest.run_id, t.regressions) for t in trends] == [
        ("sandbox", "r2", ()),
        ("staging", "r3", ()),
    ]


def test_each_environment_is_judged_with_its_own_settings() -> None:
    runs = [run(0, 10.0, environment="a"), run(1, 13.0, environment="a")]
    runs += [run(0, 10.0, environment="b"), run(1, 13.0, environment="b")]
    strict = HistorySettings(rto_growth=0.2)
    trends = judge_all(runs, lambda env: strict if env == "b" else SETTINGS)
    assert [bool(t.regressions) for t in trends] == [False, True]


def test_judge_refuses_a_mix_of_environments_or_nothing() -> None:
    with pytest.raises(ValueError, match="one environment and one drill"):
        judge([run(0, 1.0, environment="a"), run(1, 1.0, environment="b")], SETTINGS)
    with pytest.raises(ValueError, match="at least one run"):
        judge([], SETTINGS)


figures = st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False))


@given(
    rto=figures,
    rpo=figures,
    count=st.integers(min_value=1, max_value=12),
    window=st.integers(min_value=1, max_value=8),
    growth=st.floats(min_value=0, max_value=5),
)
def test_the_gate_never_flags_runs_that_are_all_equal(
    rto: float | None, rpo: float | None, count: int, window: int, growth: float
) -> None:
    settings = HistorySettings(window=window, rto_growth=growth, rpo_growth=growth)
    runs = [run(i, rto, rpo_s=rpo) for i in range(count)]
    assert judge(runs, settings).regressions == ()


@given(
    baseline=st.lists(st.floats(min_value=1, max_value=1e5), min_size=1, max_size=8),
    factor=st.floats(min_value=1.01, max_value=100),
)
def test_above_every_earlier_run_by_more_than_the_growth_always_flags(
    baseline: list[float], factor: float
) -> None:
    runs = [run(i, value) for i, value in enumerate(baseline)]
    latest = max(baseline) * 1.5 * factor
    trend = judge([*runs, run(len(runs), latest)], HistorySettings(window=8))
    assert len(trend.regressions) == 1
    assert "RTO" in trend.regressions[0]
