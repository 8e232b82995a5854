"""Load shapes: how many simulated users to run at each moment of a drill.

Pure and stdlib only, so the harness can build a shape from the profile, serialise it with
`to_json()`, and hand it to the Locust process (env `DRILLS_LOAD_SHAPE`), where a
`LoadTestShape` calls `shape_from_json(...).tick(elapsed_s)` (see fixtures/locustfiles/shop.py).
`tick` returns the `Stage` to run now, or None when the run is over.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from drills.core.errors import ConfigError
from drills.core.profile import LoadSettings

__all__ = [
    "LoadShape",
    "Spike",
    "Stage",
    "Steady",
    "Steps",
    "shape_from_json",
    "shape_from_profile",
    "spike_from_profile",
]


@dataclass(frozen=True)
class Stage:
    """Users to run and how fast to start (or stop) them, users per second."""

    users: int
    spawn_rate: float


class LoadShape(Protocol):
    """A shape answers, for time since the start, which stage to run (None = stop)."""

    def tick(self, elapsed_s: float) -> Stage | None:
        """The stage at `elapsed_s` seconds, or None once the shape is done."""
        ...

    def to_json(self) -> str:
        """Serialise for `shape_from_json`."""
        ...


def _over(elapsed_s: float, duration_s: float | None) -> bool:
    return duration_s is not None and elapsed_s >= duration_s


def _dump(kind: str, shape: object) -> str:
    return json.dumps({"kind": kind, **asdict(shape)}, sort_keys=True)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Steady:
    """The same number of users throughout (forever when `duration_s` is None)."""

    users: int
    spawn_rate: float
    duration_s: float | None = None

    def tick(self, elapsed_s: float) -> Stage | None:
        """Always the same stage until the duration is over."""
        return None if _over(elapsed_s, self.duration_s) else Stage(self.users, self.spawn_rate)

    def to_json(self) -> str:
        """Serialise for `shape_from_json`."""
        return _dump("steady", self)


@dataclass(frozen=True)
class Steps:
    """Users grow by `step_users` every `step_s`, up to `max_users`, then hold."""

    start_users: int
    step_users: int
    step_s: float
    max_users: int
    spawn_rate: float
    duration_s: float | None = None

    def tick(self, elapsed_s: float) -> Stage | None:
        """Stage for the step `elapsed_s` falls in."""
        if _over(elapsed_s, self.duration_s):
            return None
        steps = int(elapsed_s // self.step_s) if self.step_s > 0 else 0
        users = min(self.max_users, self.start_users + steps * self.step_users)
        return Stage(users, self.spawn_rate)

    def to_json(self) -> str:
        """Serialise for `shape_from_json`."""
        return _dump("steps", self)


@dataclass(frozen=True)
class Spike:
    """Baseline users, then `peak_users` from `ramp_at_s` for `hold_s`, then baseline again."""

    baseline_users: int
    peak_users: int
    spawn_rate: float
    ramp_at_s: float
    hold_s: float
    duration_s: float | None = None

    def tick(self, elapsed_s: float) -> Stage | None:
        """Peak inside [ramp_at_s, ramp_at_s + hold_s), baseline elsewhere."""
        if _over(elapsed_s, self.duration_s):
            return None
        in_spike = self.ramp_at_s <= elapsed_s < self.ramp_at_s + self.hold_s
        users = self.peak_users if in_spike else self.baseline_users
        return Stage(users, self.spawn_rate)

    def to_json(self) -> str:
        """Serialise for `shape_from_json`."""
        return _dump("spike", self)


_KINDS: dict[str, type[Steady] | type[Steps] | type[Spike]] = {
    "steady": Steady,
    "steps": Steps,
    "spike": Spike,
}


def shape_from_json(text: str) -> Steady | Steps | Spike:
    """Rebuild a shape serialised by `to_json`; ConfigError says what was wrong."""
    try:
        raw: dict[str, Any] = json.loads(text)
        kind = raw.pop("kind")
        return _KINDS[kind](**raw)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"unreadable load shape {text!r} ({type(exc).__name__}: {exc}); expected the JSON of "
            f"Steady/Steps/Spike.to_json() with kind one of {sorted(_KINDS)}"
        ) from exc


def shape_from_profile(settings: LoadSettings, name: str | None = None) -> Steady:
    """The profile's named shape (default: `[load] shape`) as a steady run of its users."""
    chosen = settings.get(name or settings.shape)
    return Steady(chosen.users, chosen.spawn_rate, chosen.duration_s)


def spike_from_profile(
    settings: LoadSettings,
    *,
    factor: float,
    ramp_at_s: float,
    hold_s: float,
    duration_s: float | None = None,
) -> Spike:
    """Baseline = the profile's default shape; the spike runs `factor` times its users."""
    if factor < 1:
        raise ConfigError(f"a spike factor must be >= 1 (got {factor}); use a smaller baseline")
    base = settings.get(settings.shape)
    peak = max(base.users, round(base.users * factor))
    return Spike(base.users, peak, base.spawn_rate, ramp_at_s, hold_s, duration_s)
