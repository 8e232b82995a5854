"""Port for the user traffic generator and the per-request stream it produces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from drills.core.dataloss import AcknowledgedWrite

__all__ = ["LoadGenerator", "RequestRecord", "RequestSink", "ShapeSpec"]


@dataclass(frozen=True)
class RequestRecord:
    """One request as the user saw it; `at_s` is monotonic seconds when it completed.

    `missing_key` names an order the user had placed and seen acknowledged (201) that a later
    read did not find (404): a failed request and a lost-write signal (empty otherwise).
    """

    at_s: float
    name: str
    ok: bool
    status: int
    latency_ms: float
    missing_key: str = ""


RequestSink = Callable[[RequestRecord], None]
"""Receives every request record as it arrives (from any thread); e.g. TrafficRecorder.add."""


class ShapeSpec(Protocol):
    """A load shape the generator can hand to its own process (see drills.load.shapes)."""

    def to_json(self) -> str:
        """Serialised shape, rebuilt inside the generator by `shape_from_json`."""
        ...


class LoadGenerator(Protocol):
    """Generates user traffic during a drill and reports what users saw.

    Every completed request reaches the sink given to the adapter, on the drill clock's axis.
    """

    def start(self, shape: ShapeSpec) -> None:
        """Start traffic following `shape`; returns once the generator runs."""
        ...

    def stop(self) -> None:
        """Stop all traffic and deliver every request made so far; idempotent."""
        ...

    def users(self) -> int:
        """Simulated users running now, as last reported by the generator."""
        ...

    def acknowledged(self) -> list[AcknowledgedWrite]:
        """Every acknowledged write (POST /orders answered 201) seen so far."""
        ...

    def check_running(self) -> None:
        """Raise LoadGeneratorDied when the generator stopped on its own or garbled its stream.

        Traffic conditions and the kill switch call it on every poll: without a generator,
        "no request failed" proves nothing.
        """
        ...
