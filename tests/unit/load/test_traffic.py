"""Unit tests for the traffic recorder and its steady-state conditions."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from drills.core.clock import FakeClock
from drills.core.drill import DefaultWaits, Drill, DrillSpec
from drills.core.errors import LoadGeneratorDied, SteadyStateNotMet
from drills.core.events import DrillEvents
from drills.core.safety import RollbackLedger
from drills.load.traffic import (
    RequestRecord,
    TrafficRecorder,
    error_ratio_below,
    p95_below,
    percentile,
    traffic_healthy,
)
from tests.unit.load.fake_generator import FakeGenerator


def _ok(at_s: float, latency_ms: float = 10.0) -> RequestRecord:
    return RequestRecord(at_s, "GET /healthz", ok=True, status=200, latency_ms=latency_ms)


def _fail(at_s: float, latency_ms: float = 5.0) -> RequestRecord:
    return RequestRecord(at_s, "GET /healthz", ok=False, status=503, latency_ms=latency_ms)


def test_outage_runs_from_first_to_last_failed_request() -> None:
    recorder = TrafficRecorder()
    for record in [_ok(1.0), _fail(2.0), _fail(3.5), _ok(4.0), _fail(2.5)]:
        recorder.add(record)
    assert recorder.outage() == (2.0, 3.5)
    assert recorder.outage(since_s=2.2) == (2.5, 3.5)
    assert recorder.outage(since_s=3.6) is None


def test_no_failure_means_no_outage() -> None:
    recorder = TrafficRecorder()
    recorder.add(_ok(1.0))
    assert recorder.outage() is None


def test_window_counts_and_percentiles() -> None:
    recorder = TrafficRecorder()
    for i in range(100):
        recorder.add(_ok(10.0 + i * 0.01, latency_ms=float(i + 1)))
    recorder.add(_fail(10.5))
    stats = recorder.window(10.0, 11.0)
    assert stats.count == 101
    assert stats.failures == 1
    assert stats.error_ratio is not None
    assert abs(stats.error_ratio - 1 / 101) < 1e-9
    assert stats.p99_ms is not None
    assert stats.p95_ms is not None
    assert stats.p50_ms is not None
    assert stats.p50_ms <= stats.p95_ms <= stats.p99_ms
    assert recorder.window(20.0, 30.0).error_ratio is None


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.5) == 50.0
    assert percentile([], 0.5) is None


def test_series_buckets_per_second() -> None:
    recorder = TrafficRecorder()
    for record in [_ok(100.1), _ok(100.2), _fail(100.9), _ok(101.5, latency_ms=30.0)]:
        recorder.add(record)
    recorder.add(_ok(102.2))  # the newest bucket is still filling: left out, not plotted low
    series = recorder.series(bucket_s=1.0)
    assert series["requests ok/s"] == [(100.0, 2.0), (101.0, 1.0)]
    assert series["requests failed/s"] == [(100.0, 1.0), (101.0, 0.0)]
    assert series["p95 latency ms"][1] == (101.0, 30.0)


def test_error_ratio_condition_reads_the_recent_window() -> None:
    clock = FakeClock(start_s=50.0)
    recorder = TrafficRecorder()
    for i in range(10):
        recorder.add(_ok(45.0 + i * 0.5))
    condition = error_ratio_below(recorder, 0.01, window_s=5.0, clock=clock)
    seen = condition()
    assert seen.ok
    assert seen.detail == "error ratio 0.000 over last 5.0 s (10 requests)"
    recorder.add(_fail(49.9))
    assert not condition().ok


def test_empty_window_is_not_healthy() -> None:
    clock = FakeClock(start_s=50.0)
    recorder = TrafficRecorder()
    recorder.add(_ok(10.0))
    seen = error_ratio_below(recorder, 0.5, window_s=5.0, clock=clock)()
    assert not seen.ok
    assert "no requests" in seen.detail
    assert not p95_below(recorder, 1000.0, window_s=5.0, clock=clock)().ok


def test_p95_and_combined_condition() -> None:
    clock = FakeClock(start_s=50.0)
    recorder = TrafficRecorder()
    for i in range(20):
        recorder.add(_ok(46.0 + i * 0.1, latency_ms=200.0 if i == 19 else 20.0))
    assert p95_below(recorder, 100.0, window_s=5.0, clock=clock)().ok
    healthy = traffic_healthy(
        recorder, max_error_ratio=0.01, max_p95_ms=100.0, window_s=5.0, clock=clock
    )
    assert healthy().ok
    clock.advance(10.0)
    assert not healthy().ok


def test_recorder_is_thread_safe() -> None:
    recorder = TrafficRecorder()

    def feed(offset: float) -> None:
        for i in range(500):
            recorder.add(_ok(offset + i))

    threads = [threading.Thread(target=feed, args=(k * 0.1,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times = [r.at_s for r in recorder.records()]
    assert len(times) == 2000
    assert times == sorted(times)


def test_users_running_with_an_empty_window_say_they_are_stuck() -> None:
    clock = FakeClock(start_s=50.0)
    recorder = TrafficRecorder()
    recorder.add(_ok(10.0))
    healthy = traffic_healthy(
        recorder,
        max_error_ratio=0.01,
        max_p95_ms=1000.0,
        window_s=2.0,
        clock=clock,
        generator=FakeGenerator(running_users=20),
    )
    seen = healthy()
    assert not seen.ok
    assert "20 users running, none completed a request over last 2.0 s" in seen.detail


def test_a_dead_generator_stops_the_traffic_condition() -> None:
    clock = FakeClock(start_s=50.0)
    recorder = TrafficRecorder()
    for i in range(10):
        recorder.add(_ok(49.0 + i * 0.1))
    generator = FakeGenerator()
    condition = error_ratio_below(recorder, 0.01, window_s=2.0, clock=clock, generator=generator)
    assert condition().ok
    generator.died = "the load generator died: Locust (standalone, pid 7) exited with status 1"
    with pytest.raises(LoadGeneratorDied, match="exited with status 1"):
        condition()


def test_a_window_of_stuck_users_fails_the_steady_state(tmp_path: Path) -> None:
    """A few requests long ago, users still running, none completing: never a steady state."""
    clock = FakeClock(start_s=0.0)
    recorder = TrafficRecorder()
    for i in range(30):  # healthy for 3 s, then every user hangs
        recorder.add(_ok(i * 0.1))
    spec = DrillSpec(
        "stuck",
        "§1",
        "shop",
        waits=DefaultWaits(steady_state_timeout_s=30, stability_window_s=10, poll_s=1),
    )
    drill = Drill(
        spec, clock=clock, events=DrillEvents(), ledger=RollbackLedger(tmp_path / "l.jsonl")
    )
    healthy = traffic_healthy(
        recorder,
        max_error_ratio=0.01,
        max_p95_ms=1000.0,
        window_s=2.0,
        clock=clock,
        generator=FakeGenerator(running_users=20),
    )
    with pytest.raises(SteadyStateNotMet, match="20 users running, none completed"):
        drill.expect_steady_state(healthy)
