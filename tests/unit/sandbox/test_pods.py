"""Pure parts of the process container runner: quantities, back-off, pod addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.sandbox.pods import KUBERNETES_BACKOFF, AddressBlock, BackOff, PodIPs, parse_memory


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


def test_pod_addresses_are_distinct_loopback_and_rotate() -> None:
    ips = PodIPs(first_third_octet=200)
    first, second = ips.allocate(), ips.allocate()
    assert first == "127.0.200.1"
    assert second == "127.0.200.2"
    ips.release(first)
    assert ips.allocate() == "127.0.200.3"


def test_each_claim_gets_its_own_address_block_until_released(tmp_path: Path) -> None:
    first = AddressBlock.claim(tmp_path, first=5, last=6)
    second = AddressBlock.claim(tmp_path, first=5, last=6)
    assert (first.third_octet, second.third_octet) == (5, 6)
    with pytest.raises(ConfigError, match=r"127\.0\.5-6\.0/24 is held by a running sandbox"):
        AddressBlock.claim(tmp_path, first=5, last=6)
    first.release()
    again = AddressBlock.claim(tmp_path, first=5, last=6)
    assert again.third_octet == 5
    for block in (second, again):
        block.release()


def test_pod_addresses_stay_inside_their_block() -> None:
    ips = PodIPs(first_third_octet=210, last_third_octet=210)
    handed = {ips.allocate() for _ in range(254)}
    assert all(ip.startswith("127.0.210.") for ip in handed)
    with pytest.raises(ConfigError, match="every sandbox pod address is taken"):
        ips.allocate()
