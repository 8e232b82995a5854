"""Parse human durations such as `15m`, `1h30m`, `900ms` into float seconds (edges only)."""

from __future__ import annotations

import re

__all__ = ["MAX_DURATION_S", "format_duration", "parse_duration"]

# No drill, wait or cadence of the runbooks comes near a year (the longest, re-certification,
# is 90 d): a larger figure is a typo or a hostile profile, and inf or nan would make a bounded
# wait unbounded. One ceiling for every duration read at the edges.
MAX_DURATION_S = 366 * 86400.0

_UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str | float | int) -> float:
    """Return seconds for `text` (`15m`, `900ms`, `1h30m`, `2.5s`, or plain seconds).

    Raises ValueError with the accepted forms when the text is not a duration, and when it is
    negative, not finite (`inf`, `nan`) or above `MAX_DURATION_S` (366 days).
    """
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        return _in_range(text, str(text))
    cleaned = text.strip().lower().replace(" ", "")
    try:
        number = float(cleaned)
    except ValueError:
        pass
    else:
        return _in_range(number, text)
    pos, total = 0, 0.0
    for match in _PART.finditer(cleaned):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS_S[match.group(2)]
        pos = match.end()
    if pos != len(cleaned) or not cleaned:
        raise ValueError(
            f"not a duration: {text!r}; write e.g. '15m', '1h', '90s', '900ms' or '1h30m'"
        )
    return _in_range(total, text)


def _in_range(value: float, text: str) -> float:
    """`value` as float seconds; compared before any conversion, so a huge int is no overflow."""
    text = text if len(text) <= 40 else f"{text[:37]}..."
    if value != value or value < 0:  # nan is the one value unequal to itself
        raise ValueError(f"a duration cannot be negative or nan: {text!r}")
    if value > MAX_DURATION_S:
        raise ValueError(f"{text!r} is longer than a year (366d), the most any duration may be")
    return float(value)


def format_duration(seconds: float | None) -> str:
    """Render seconds for people: `900ms`, `12.3s`, `15m`, `1h2m`, `90d`; None is `n/a`."""
    if seconds is None:
        return "n/a"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours >= 48 and not minutes and hours % 24 == 0:  # a cadence: `90d`, not `2160h`
        return f"{hours // 24}d"
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
