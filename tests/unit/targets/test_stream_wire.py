"""The request stream's wire format: what the Locust side writes, the harness reads back."""

from __future__ import annotations

import pytest

from drills.targets.adapters.stream_wire import (
    Decoded,
    decode,
    encode_clock,
    encode_requests,
    encode_users,
)


def _round_trip(line: str) -> Decoded | int | str | None:
    return decode((line + "\n").encode())


def test_a_plain_request_survives_the_round_trip() -> None:
    [line] = encode_requests([(12.3456789, "GET /products", 1, 200, 4.25, "", "")])
    assert _round_trip(line) == Decoded(12.345679, "GET /products", True, 200, 4.25)


def test_an_acknowledged_write_keeps_its_key_and_hash() -> None:
    [line] = encode_requests([(1.0, "POST /orders", 1, 201, 9.0, "k-1", "ab12")])
    decoded = _round_trip(line)
    assert isinstance(decoded, Decoded)
    assert (decoded.order_key, decoded.payload_hash, decoded.status) == ("k-1", "ab12", 201)


def test_a_failed_request_reads_back_as_not_ok() -> None:
    [line] = encode_requests([(2.0, "GET /x", 0, 0, 1000.0, "", "")])
    decoded = _round_trip(line)
    assert isinstance(decoded, Decoded)
    assert (decoded.ok, decoded.status) == (False, 0)


def test_tabs_and_newlines_in_a_name_cannot_break_the_line() -> None:
    [line] = encode_requests([(3.0, "GET /a\tb\nc", 1, 200, 1.0, "", "")])
    decoded = _round_trip(line)
    assert isinstance(decoded, Decoded)
    assert decoded.name == "GET /a b c"


def test_user_counts_read_back_as_integers() -> None:
    assert _round_trip(encode_users(17)) == 17


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not a line\n",
        b"R\tx\t1\t200\t1.0\tGET /\n",
        b"U\tmany\n",
        b"R\t1.0\t1\t200\n",
        b"\xff\n",
    ],
)
def test_anything_else_is_rejected_rather_than_guessed(raw: bytes) -> None:
    assert decode(raw) is None


def test_clock_lines_name_the_connection_clock() -> None:
    assert _round_trip(encode_clock("wall")) == "wall"
    assert _round_trip(encode_clock("monotonic")) == "monotonic"
    assert decode(b"C\tsundial\n") is None
    with pytest.raises(ValueError, match="use one of monotonic, wall"):
        encode_clock("sundial")
