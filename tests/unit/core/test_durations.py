import pytest

from drills.core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15m", 900.0),
        ("5m", 300.0),
        ("900ms", 0.9),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("2.5s", 2.5),
        ("10", 10.0),
        (" 1h 2m ", 3720.0),
        (0, 0.0),
        (1.5, 1.5),
        ("1d", 86400.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "m", "15 minutes", "-5m", "5x", "1h-2m", "ms15"])
def test_parse_duration_rejects_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_duration_rejects_bool() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(True)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "n/a"),
        (0.9, "900ms"),
        (2.5, "2.5s"),
        (12.34, "12.3s"),
        (900, "15m"),
        (930, "15m30s"),
        (3600, "1h"),
        (3720, "1h02m"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text
