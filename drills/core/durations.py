"""Parse human durations such as `15m`, `1h30m`, `900ms` into float seconds (edges only)."""

from __future__ import annotations

import re

__all__ = ["format_duration", "parse_duration"]

_UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str | float | int) -> float:
    """Return seconds for `text` (`15m`, `900ms`, `1h30m`, `2.5s`, or plain seconds).

    Raises ValueError with the accepted forms when the text is not a duration.
    """
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        return _non_negative(float(text), str(text))
    cleaned = text.strip().lower().replace(" ", "")
    try:
        return _non_negative(float(cleaned), text)
    except ValueError:
        pass
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
    return total


def _non_negative(value: float, text: str) -> float:
    if value < 0:
        raise ValueError(f"a duration cannot be negative: {text!r}")
    return value


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
