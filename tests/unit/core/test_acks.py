"""A locustfile's declared writes (`drills.load.acknowledge`) and which answers acknowledge them."""

from __future__ import annotations

import pytest

from drills.load.acknowledge import ack_context, acknowledged_write, read_context


@pytest.mark.parametrize("status", [200, 201, 204])
def test_an_ack_key_write_is_acknowledged_by_any_2xx(status: int) -> None:
    assert acknowledged_write(ack_context("n1", "h1"), status) == ("n1", "h1")


@pytest.mark.parametrize("status", [302, 404, 500, 0])
def test_an_ack_key_write_without_a_2xx_is_not(status: int) -> None:
    assert acknowledged_write(ack_context("n1", "h1"), status) is None


def test_the_shops_order_key_still_needs_its_201() -> None:
    shop = {"order_key": "o1", "payload_hash": "h"}
    assert acknowledged_write(shop, 201) == ("o1", "h")
    assert acknowledged_write(shop, 200) is None


def test_a_read_or_an_unmarked_request_is_no_write() -> None:
    assert acknowledged_write(read_context("n1"), 200) is None
    assert acknowledged_write(None, 201) is None
    assert acknowledged_write({"payload_hash": "h"}, 201) is None  # no key


def test_a_declared_write_needs_its_key_and_hash() -> None:
    with pytest.raises(ValueError, match="key and its payload hash"):
        ack_context("", "h")
    with pytest.raises(ValueError, match="the key it reads"):
        read_context("")
