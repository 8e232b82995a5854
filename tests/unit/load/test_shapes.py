"""Unit tests for load shapes and their JSON round trip."""

from __future__ import annotations

import pytest

from drills.core.errors import ConfigError
from drills.load.shapes import Spike, Stage, Steady, Steps, shape_from_json


def test_steady_holds_until_duration() -> None:
    shape = Steady(users=5, spawn_rate=2.0, duration_s=10.0)
    assert shape.tick(0.0) == Stage(5, 2.0)
    assert shape.tick(9.9) == Stage(5, 2.0)
    assert shape.tick(10.0) is None
    assert Steady(3, 1.0).tick(1e9) == Stage(3, 1.0)


def test_steps_grow_then_hold_at_max() -> None:
    shape = Steps(start_users=2, step_users=3, step_s=5.0, max_users=9, spawn_rate=10.0)
    assert [shape.tick(t).users for t in (0.0, 4.9, 5.0, 10.0, 15.0, 100.0)] == [  # type: ignore[union-attr]
        2,
        2,
        5,
        8,
        9,
        9,
    ]


def test_spike_goes_baseline_peak_baseline() -> None:
    shape = Spike(
        baseline_users=2, peak_users=10, spawn_rate=5.0, ramp_at_s=3.0, hold_s=4.0, duration_s=12.0
    )
    assert shape.tick(0.0) == Stage(2, 5.0)
    assert shape.tick(3.0) == Stage(10, 5.0)
    assert shape.tick(6.9) == Stage(10, 5.0)
    assert shape.tick(7.0) == Stage(2, 5.0)
    assert shape.tick(12.0) is None


@pytest.mark.parametrize(
    "shape",
    [
        Steady(4, 2.0, 30.0),
        Steps(1, 2, 3.0, 7, 1.5),
        Spike(2, 8, 4.0, 5.0, 10.0, 20.0),
    ],
)
def test_json_round_trip(shape: Steady | Steps | Spike) -> None:
    assert shape_from_json(shape.to_json()) == shape


@pytest.mark.parametrize("text", ["", "{}", '{"kind": "wave"}', '{"kind": "steady", "x": 1}'])
def test_bad_json_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="load shape"):
        shape_from_json(text)


def test_profile_shapes_become_steady_and_spike_runs() -> None:
    from drills.core.profile import LoadSettings, LoadShape
    from drills.load.shapes import shape_from_profile, spike_from_profile

    settings = LoadSettings(users=10, spawn_rate=5.0, shapes=(LoadShape("soak", 4, 2.0, 60.0),))
    assert shape_from_profile(settings) == Steady(10, 5.0, None)
    assert shape_from_profile(settings, "soak") == Steady(4, 2.0, 60.0)
    spike = spike_from_profile(settings, factor=3.0, ramp_at_s=10.0, hold_s=20.0)
    assert spike.tick(5.0) == Stage(10, 5.0)
    assert spike.tick(15.0) == Stage(30, 5.0)
    assert spike.tick(31.0) == Stage(10, 5.0)
    with pytest.raises(ConfigError, match="spike factor"):
        spike_from_profile(settings, factor=0.5, ramp_at_s=0.0, hold_s=1.0)
