"""Unit tests for the kill switch on a FakeClock."""

from __future__ import annotations

import pytest

from drills.core.clock import FakeClock
from drills.load.killswitch import KillSwitch
from drills.load.traffic import RequestRecord, TrafficRecorder
from tests.unit.load.fake_generator import FakeGenerator


def _traffic(recorder: TrafficRecorder, clock: FakeClock, *, ok: bool, seconds: int) -> None:
    """Ten requests per second for `seconds`, all ok or all failed, advancing the clock."""
    for _ in range(seconds):
        for tenth in range(10):
            at = clock.now() + tenth / 10
            recorder.add(RequestRecord(at, "GET /", ok, 200 if ok else 503, 5.0))
        clock.advance(1.0)


def _switch(recorder: TrafficRecorder, clock: FakeClock, trips: list[str]) -> KillSwitch:
    return KillSwitch(
        recorder, clock=clock, error_ratio=0.5, sustained_s=10.0, on_trip=trips.append, window_s=2.0
    )


def test_trips_once_after_errors_outlast_the_allowance() -> None:
    clock, recorder = FakeClock(0.0), TrafficRecorder()
    trips: list[str] = []
    switch = _switch(recorder, clock, trips)
    _traffic(recorder, clock, ok=True, seconds=5)
    assert not switch.poll()
    tripped_at = None
    for _ in range(20):
        _traffic(recorder, clock, ok=False, seconds=1)
        if switch.poll() and tripped_at is None:
            tripped_at = clock.now()
    assert len(trips) == 1
    assert "above the abort limit 0.50" in trips[0]
    assert tripped_at is not None
    assert 5 + 10 <= tripped_at <= 5 + 10 + 2  # allowance, plus at most the window to notice


def test_a_short_burst_below_the_allowance_resets() -> None:
    clock, recorder = FakeClock(0.0), TrafficRecorder()
    trips: list[str] = []
    switch = _switch(recorder, clock, trips)
    for _ in range(3):
        for _ in range(6):
            _traffic(recorder, clock, ok=False, seconds=1)
            switch.poll()
        for _ in range(4):
            _traffic(recorder, clock, ok=True, seconds=1)
            switch.poll()
    assert trips == []
    assert switch.tripped_reason is None


def test_no_traffic_does_not_trip_and_bad_limits_are_refused() -> None:
    clock, recorder = FakeClock(0.0), TrafficRecorder()
    trips: list[str] = []
    switch = _switch(recorder, clock, trips)
    clock.advance(100.0)
    assert not switch.poll()
    with pytest.raises(ValueError, match="error_ratio"):
        KillSwitch(recorder, clock=clock, error_ratio=2.0, sustained_s=1.0, on_trip=trips.append)


def test_profile_settings_are_used() -> None:
    from drills.core.profile import KillSwitch as Settings

    switch = KillSwitch.from_profile(
        TrafficRecorder(), Settings(0.2, 30.0), clock=FakeClock(0.0), on_trip=lambda _: None
    )
    assert (switch.error_ratio, switch.sustained_s) == (0.2, 30.0)


def test_users_running_with_no_completed_request_trip_the_switch() -> None:
    """Stuck users are failing users: silence with users running counts as all failed."""
    clock, recorder = FakeClock(0.0), TrafficRecorder()
    trips: list[str] = []
    generator = FakeGenerator(running_users=20)
    switch = KillSwitch(
        recorder,
        clock=clock,
        error_ratio=0.5,
        sustained_s=10.0,
        on_trip=trips.append,
        window_s=2.0,
        generator=generator,
    )
    _traffic(recorder, clock, ok=True, seconds=5)
    assert not switch.poll()
    for _ in range(20):  # every request hangs from now on: nothing completes
        clock.advance(1.0)
        switch.poll()
    assert len(trips) == 1
    assert "20 users running, none completed a request" in trips[0]


def test_no_users_and_no_requests_is_not_a_failure() -> None:
    clock, recorder = FakeClock(0.0), TrafficRecorder()
    trips: list[str] = []
    switch = KillSwitch(
        recorder,
        clock=clock,
        error_ratio=0.5,
        sustained_s=1.0,
        on_trip=trips.append,
        generator=FakeGenerator(running_users=0),
    )
    for _ in range(10):
        clock.advance(1.0)
        switch.poll()
    assert trips == []


def test_a_dead_load_generator_trips_the_switch_at_once() -> None:
    clock, recorder = FakeClock(0.0), TrafficRecorder()
    trips: list[str] = []
    generator = FakeGenerator()
    switch = KillSwitch(
        recorder,
        clock=clock,
        error_ratio=0.5,
        sustained_s=300.0,
        on_trip=trips.append,
        generator=generator,
    )
    _traffic(recorder, clock, ok=True, seconds=3)
    assert not switch.poll()
    generator.died = "the load generator died: Locust (standalone, pid 7) was killed by SIGKILL"
    assert switch.poll()
    assert trips == [
        "kill switch: the load generator died: Locust (standalone, pid 7) was killed by SIGKILL"
    ]
