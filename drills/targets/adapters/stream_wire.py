"""The request stream's wire format, shared by the Locust side and the harness side.

One line per message, fields separated by TAB, chosen because it is cheap to write inside the
Locust process (one f-string per request, formatted in batches at flush time) and cheap to read
in the harness (one `split`), where JSON cost several microseconds per request on each side:

    C <clock>                  first line of a connection: "monotonic" or "wall"
    R <t> <ok> <status> <latency_ms> <name> [<order_key> <payload_hash>]
    U <users>

`t` is seconds on the connection's clock: CLOCK_MONOTONIC, shared by every process on one host,
or wall time (Unix seconds) for workers on other hosts, which the harness maps onto its own
monotonic axis. `ok` is 1 or 0; the optional pair marks an acknowledged write (POST /orders
answered 201 with the context's key and hash) or, with status 404 and the hash `MISSING`, a
read of an order the user had seen acknowledged that the service no longer finds (a lost-write
signal). A connection without a C line is monotonic.
TABs and line breaks inside a request name are replaced by spaces. Stdlib only: the Locust
process imports it without the harness's dependencies.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

__all__ = [
    "CLOCKS",
    "MISSING",
    "Decoded",
    "RequestLine",
    "decode",
    "encode_clock",
    "encode_requests",
    "encode_users",
]

CLOCKS = ("monotonic", "wall")
MISSING = "missing"
"""The hash field of a read that found one of the user's acknowledged orders gone (404)."""

_TAGGED, _PLAIN, _WITH_WRITE = 2, 6, 8  # fields per kind of line
_CLEAN = str.maketrans({"\t": " ", "\n": " ", "\r": " "})

# (t, name, ok, status, latency_ms, order_key or "", payload_hash or "")
RequestLine = tuple[float, str, int, int, float, str, str]


class Decoded(NamedTuple):
    """One decoded request line; `order_key` is empty unless it was an acknowledged write."""

    at_s: float
    name: str
    ok: bool
    status: int
    latency_ms: float
    order_key: str = ""
    payload_hash: str = ""


def encode_requests(lines: Iterable[RequestLine]) -> list[str]:
    """Format buffered request tuples as wire lines (without the trailing newline)."""
    encoded = []
    for t, name, ok, status, latency_ms, key, digest in lines:
        text = f"R\t{t:.6f}\t{ok}\t{status}\t{latency_ms:.3f}\t{name.translate(_CLEAN)}"
        encoded.append(f"{text}\t{key}\t{digest}" if key else text)
    return encoded


def encode_users(users: int) -> str:
    """The line that reports how many users one Locust process runs."""
    return f"U\t{users}"


def encode_clock(clock: str) -> str:
    """The line that names the clock of a connection's timestamps."""
    if clock not in CLOCKS:
        raise ValueError(f"unknown stream clock {clock!r}; use one of {', '.join(CLOCKS)}")
    return f"C\t{clock}"


def decode(raw: bytes) -> Decoded | int | str | None:
    """A request line becomes `Decoded`, a users line an int, a clock line its name (str).

    Anything else is None.
    """
    parts = raw.rstrip(b"\r\n").split(b"\t")
    try:
        if parts[0] == b"U" and len(parts) == _TAGGED:
            return int(parts[1])
        if parts[0] == b"C" and len(parts) == _TAGGED:
            clock = parts[1].decode()
            return clock if clock in CLOCKS else None
        if parts[0] != b"R" or len(parts) not in (_PLAIN, _WITH_WRITE):
            return None
        write = parts[6:8] if len(parts) == _WITH_WRITE else [b"", b""]
        return Decoded(
            float(parts[1]),
            parts[5].decode(),
            parts[2] == b"1",
            int(parts[3]),
            float(parts[4]),
            write[0].decode(),
            write[1].decode(),
        )
    except (ValueError, UnicodeDecodeError):
        return None
