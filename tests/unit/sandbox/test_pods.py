"""Pure parts of the process container runner: quantities, back-off, image IDs."""

from __future__ import annotations

import pytest

from drills.core.errors import ConfigError
from drills.sandbox.node.runner import KUBERNETES_BACKOFF, BackOff, image_id, parse_memory


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [("512Mi", 512 * 1024**2), ("1Gi", 1024**3), ("128M", 128 * 10**6), ("1000", 1000), (64, 64)],
)
def test_memory_quantities(quantity: str | int, expected: int) -> None:
    assert parse_memory(quantity) == expected


def test_a_bad_quantity_says_how_to_write_one() -> None:
    with pytest.raises(ConfigError, match="512Mi"):
        parse_memory("lots")


def test_kubernetes_backoff_doubles_from_10s_to_a_5_minute_cap() -> None:
    delays = [KUBERNETES_BACKOFF.delay_s(n) for n in range(1, 8)]
    assert delays == [10, 20, 40, 80, 160, 300, 300]
    assert KUBERNETES_BACKOFF.reset_after_s == 600


def test_short_backoff_for_the_sandbox() -> None:
    backoff = BackOff(base_s=0.25, cap_s=1.0)
    assert [backoff.delay_s(n) for n in range(0, 5)] == [0.0, 0.25, 0.5, 1.0, 1.0]


def test_image_ids_are_stable_digests_named_after_the_repository() -> None:
    first = image_id("registry.example/drills/shop:1.0.0")
    assert first.startswith("registry.example/drills/shop@sha256:")
    assert first == image_id("registry.example/drills/shop:1.0.0")
    assert first != image_id("registry.example/drills/shop:1.0.1")
    assert image_id("") == ""
