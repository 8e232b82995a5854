"""Runs INSIDE the Locust process: streams every request to the harness as one line.

The locustfile calls `install(events)`. When the harness set `DRILLS_STREAM_ADDR=host:port`,
each request Locust completes (`events.request`) becomes one tuple in a buffer: monotonic time,
name, success, status, latency, and the key and payload hash of an acknowledged write, or the
key and `MISSING` when a read whose context names an acknowledged write (`read_key`) was
answered 404. A locustfile declares a write through the request's context:
`context=drills.load.acknowledge.ack_context(key, payload_hash)` (`ack_key`), acknowledged by
any 2xx answer; the demo shop's `order_key` context is acknowledged by its 201. The hook does
nothing more, so streaming costs the users' greenlets about a microsecond per request; the buffer is
formatted in one go at flush time (`stream_wire`), followed by the user count of this process.
Lines are flushed every `DRILLS_STREAM_FLUSH_S` (default 0.05 s) by a greenlet,
and synchronously on `test_stop` and `quitting`, so the last second is never lost; `quitting`
closes the socket, which tells the harness this process is done (EOF).

By default times are `time.monotonic()`: CLOCK_MONOTONIC, system-wide on Linux, so they share
the axis of the harness's SystemClock. A worker on another host has its own monotonic clock, so
there `DRILLS_STREAM_CLOCK=wall` streams `time.time()` instead, announced by the connection's
first line; the harness maps it onto its axis (accurate as far as both hosts' NTP agrees).
Without `DRILLS_STREAM_ADDR` nothing is installed (plain Locust).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from typing import Any

import gevent
from locust.env import Environment
from locust.event import Events

from drills.core.acks import acknowledged_write
from drills.targets.adapters.stream_wire import (
    MISSING,
    RequestLine,
    encode_clock,
    encode_requests,
    encode_users,
)

__all__ = ["RequestStreamer", "install", "stop_shape_on_sigterm"]

ENV_ADDR = "DRILLS_STREAM_ADDR"
ENV_FLUSH = "DRILLS_STREAM_FLUSH_S"
ENV_CLOCK = "DRILLS_STREAM_CLOCK"


class RequestStreamer:
    """Buffers request lines and sends them to the harness over one TCP connection."""

    def __init__(self, address: tuple[str, int], flush_s: float, clock: str = "monotonic") -> None:
        self._address, self._flush_s = address, flush_s
        self._clock_line = encode_clock(clock)
        self._now = time.time if clock == "wall" else time.monotonic  # noqa: TID251 - see above
        self._buffer: list[RequestLine] = []
        self._sock: socket.socket | None = None
        self._environment: Environment | None = None
        self._closed = False

    def on_request(  # noqa: PLR0913 - Locust's event signature
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        response: Any = None,
        context: Any = None,
        exception: Any = None,
        **_: Any,
    ) -> None:
        """Buffer one tuple for a completed request (formatted later, at flush time)."""
        status = int(getattr(response, "status_code", 0) or 0)
        key = digest = ""
        written = None if exception else acknowledged_write(context, status)
        if written is not None:
            key, digest = written
        elif status == 404 and isinstance(context, dict) and context.get("read_key"):
            key, digest = str(context["read_key"]), MISSING
        self._buffer.append(
            (
                self._now(),
                f"{request_type} {name}",
                0 if exception else 1,
                status,
                float(response_time or 0.0),
                key,
                digest,
            )
        )

    def on_init(self, environment: Environment, **_: Any) -> None:
        """Remember the environment (for the user count) and start the flusher greenlet."""
        self._environment = environment
        gevent.spawn(self._flush_forever)

    def flush(self, **_: Any) -> None:
        """Send everything buffered plus the current user count; connects lazily."""
        if self._closed:
            return
        buffered, self._buffer = self._buffer, []
        runner = self._environment.runner if self._environment else None
        if runner is None or type(runner).__name__ == "MasterRunner":
            return  # the master makes no requests; its workers stream their own
        lines = encode_requests(buffered)
        lines.append(encode_users(runner.user_count))
        if self._sock is None:
            self._sock = socket.create_connection(self._address, timeout=10.0)
            lines.insert(0, self._clock_line)
        self._sock.sendall(("\n".join(lines) + "\n").encode())

    def close(self, **_: Any) -> None:
        """Final flush, then close the connection (the harness reads EOF)."""
        self.flush()
        self._closed = True
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _flush_forever(self) -> None:
        while not self._closed:
            gevent.sleep(self._flush_s)
            self.flush()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def stop_shape_on_sigterm(events: Events) -> None:
    """Make SIGTERM end a headless shape run the orderly way.

    Locust (2.47) installs its own SIGTERM handler only after a headless shape run has ended,
    so a SIGTERM during the run kills the process outright: no `test_stop`, no `quitting`, no
    final stats and, for a master, no quit message to its workers (a remote worker keeps
    running). This handler ends the shape instead; Locust then stops the runner, tells the
    workers to quit and shuts down through its usual path.
    """

    def on_init(environment: Environment, **_: Any) -> None:
        def end_shape() -> None:
            greenlet = getattr(environment.runner, "shape_greenlet", None)
            if greenlet is not None:
                greenlet.kill(block=False)

        gevent.signal_handler(signal.SIGTERM, end_shape)

    events.init.add_listener(on_init)  # type: ignore[no-untyped-call]


def install(events: Events) -> RequestStreamer | None:
    """Hook the request, test_stop and quitting events when the harness asked for a stream."""
    addr = os.environ.get(ENV_ADDR)
    if not addr:
        return None
    flush_s = float(os.environ.get(ENV_FLUSH, "0.05"))
    streamer = RequestStreamer(_address(addr), flush_s, os.environ.get(ENV_CLOCK, "monotonic"))
    events.request.add_listener(streamer.on_request)  # type: ignore[no-untyped-call]
    events.init.add_listener(streamer.on_init)  # type: ignore[no-untyped-call]
    events.test_stop.add_listener(streamer.flush)  # type: ignore[no-untyped-call]
    events.quitting.add_listener(streamer.close)  # type: ignore[no-untyped-call]
    return streamer
