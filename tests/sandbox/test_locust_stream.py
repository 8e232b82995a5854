"""The harness side of the request stream, fed over a real loopback socket (no Locust)."""

from __future__ import annotations

import socket

import pytest

from drills.core.clock import SystemClock
from drills.core.dataloss import AcknowledgedWrite
from drills.core.waiting import wait_until
from drills.load.traffic import TrafficRecorder
from drills.targets.adapters.locust_load import StreamServer
from drills.targets.adapters.stream_wire import encode_clock, encode_requests, encode_users

pytestmark = pytest.mark.sandbox


def _line(**fields: object) -> bytes:
    if "u" in fields:
        return (encode_users(int(str(fields["u"]))) + "\n").encode()
    request = (
        float(str(fields["t"])),
        str(fields["n"]),
        int(str(fields["ok"])),
        int(str(fields["s"])),
        float(str(fields["l"])),
        str(fields.get("k", "")),
        str(fields.get("h", "")),
    )
    [line] = encode_requests([request])
    return (line + "\n").encode()


def test_lines_become_records_acks_and_user_counts_and_drain_to_eof() -> None:
    recorder = TrafficRecorder()
    ledger: list[AcknowledgedWrite] = []
    server = StreamServer(recorder.add, ledger.append)
    host, port = server.address.split(":")
    first = socket.create_connection((host, int(port)))
    second = socket.create_connection((host, int(port)))
    first.sendall(_line(t=10.0, n="GET /healthz", ok=1, s=200, l=1.5) + _line(u=3))
    second.sendall(_line(t=9.5, n="POST /orders", ok=1, s=201, l=4.0, k="k1", h="abc"))
    second.sendall(_line(u=2) + b"not a request\n" + _line(t=11.0, n="GET /x", ok=0, s=503, l=2.0))
    wait_until(
        lambda: server.users() == 5,
        clock=SystemClock(),
        timeout_s=5.0,
        poll_s=0.01,
        description="both user counts",
    )
    first.close()
    second.close()
    server.close(drain_timeout_s=5.0)
    assert [r.at_s for r in recorder.records()] == [9.5, 10.0, 11.0]
    assert ledger == [AcknowledgedWrite("k1", 9.5, "abc")]
    assert server.acknowledged() == ledger
    assert server.bad_lines == 1
    assert server.connections == 2
    assert server.users() == 0  # both processes said goodbye (EOF)
    assert recorder.outage() == (11.0, 11.0)


def test_a_wall_clock_connection_lands_on_the_harness_monotonic_axis() -> None:
    clock, recorder = SystemClock(), TrafficRecorder()
    server = StreamServer(recorder.add, clock=clock)
    host, port = server.address.split(":")
    with socket.create_connection((host, int(port))) as remote:
        sent_at_s = clock.now()
        wall_s = clock.wall().timestamp()
        remote.sendall((encode_clock("wall") + "\n").encode())
        remote.sendall(_line(t=wall_s, n="GET /x", ok=1, s=200, l=1.0))
        wait_until(
            lambda: len(recorder) == 1,
            clock=clock,
            timeout_s=5.0,
            poll_s=0.01,
            description="the record",
        )
    server.close(drain_timeout_s=5.0)
    [record] = recorder.records()
    assert abs(record.at_s - sent_at_s) < 0.05  # same instant, two clocks, one axis
