"""What a locustfile reads from the environment the harness starts Locust with (pure).

`drills.targets.adapters.locust_load.LocustLoad` sets these; a locustfile reads them through
`drills.locustfile` (TIMEOUT, think_time), so a team's file and the demo ones agree:

- `DRILLS_LOAD_WAIT_S`: "low,high" seconds each user waits between tasks (default "0.05,0.2");
- `DRILLS_LOAD_TIMEOUTS_S`: "connect,read" seconds one request may take (the profile's `[load]`
  `connect_timeout` and `read_timeout`); a request that hangs longer fails, so a stuck user is
  counted instead of silently missing from the figures;
- `DRILLS_JOURNEYS`: the profile's journeys as JSON, for the generic user (drills.core.journeys).

Stdlib and drills.core only: unit tests import it without Locust.
"""

from __future__ import annotations

from collections.abc import Mapping

from drills.core.profile import LoadSettings

__all__ = [
    "DEFAULT_WAIT_S",
    "JOURNEYS_ENV",
    "TIMEOUTS_ENV",
    "WAIT_ENV",
    "think_time_s",
    "timeouts_s",
]

WAIT_ENV = "DRILLS_LOAD_WAIT_S"
TIMEOUTS_ENV = "DRILLS_LOAD_TIMEOUTS_S"
JOURNEYS_ENV = "DRILLS_JOURNEYS"
DEFAULT_WAIT_S = (0.05, 0.2)


def think_time_s(environ: Mapping[str, str]) -> tuple[float, float]:
    """(low, high) seconds between a user's tasks: `DRILLS_LOAD_WAIT_S`, else 0.05 to 0.2."""
    low, high = _pair(environ, WAIT_ENV, DEFAULT_WAIT_S)
    if low > high:
        raise ValueError(
            f"{WAIT_ENV}={environ[WAIT_ENV]!r}: the first number must not be the larger"
        )
    return low, high


def timeouts_s(environ: Mapping[str, str]) -> tuple[float, float]:
    """(connect, read) seconds per request: `DRILLS_LOAD_TIMEOUTS_S`, else `[load]`'s defaults."""
    return _pair(
        environ, TIMEOUTS_ENV, (LoadSettings.connect_timeout_s, LoadSettings.read_timeout_s)
    )


def _pair(
    environ: Mapping[str, str], name: str, default: tuple[float, float]
) -> tuple[float, float]:
    raw = environ.get(name)
    if not raw:
        return default
    try:
        low, high = (float(part) for part in raw.split(","))
    except ValueError:
        raise ValueError(f'{name}={raw!r}: write two numbers of seconds, e.g. "0.05,0.2"') from None
    if low < 0 or high < 0:
        raise ValueError(f"{name}={raw!r}: seconds cannot be negative")
    return low, high
