"""A 404 on one of the user's own acknowledged orders: a failed request and a lost-write signal.

The locustfile reads back only keys it saw acknowledged (201) and tags such a read with the key;
the stream carries the key with the hash `MISSING` when the answer was 404. The harness side
must count that request failed, never as an acknowledgement, and keep the key.
"""

from __future__ import annotations

from drills.core.clock import FakeClock
from drills.load.traffic import RequestRecord, TrafficRecorder, error_ratio_below
from drills.targets.adapters.locust_load import request_of
from drills.targets.adapters.stream_wire import MISSING, Decoded, decode, encode_requests

READ = "GET GET /orders/{key}"


def _streamed(*lines: tuple[float, str, int, int, float, str, str]) -> list[Decoded]:
    decoded = [decode(f"{line}\n".encode()) for line in encode_requests(lines)]
    assert all(isinstance(d, Decoded) for d in decoded)
    return [d for d in decoded if isinstance(d, Decoded)]


def test_a_404_on_an_acknowledged_key_is_failed_and_names_the_key() -> None:
    [line] = _streamed((10.0, READ, 0, 404, 3.0, "k-7", MISSING))
    record, write = request_of(line)
    assert (record.ok, record.status, record.missing_key) == (False, 404, "k-7")
    assert write is None  # a lost write is never an acknowledgement


def test_a_404_reported_ok_by_a_lenient_locustfile_still_counts_failed() -> None:
    [line] = _streamed((10.0, READ, 1, 404, 3.0, "k-7", MISSING))
    record, write = request_of(line)
    assert not record.ok
    assert record.missing_key == "k-7"
    assert write is None


def test_acknowledged_writes_and_plain_reads_are_unchanged() -> None:
    ack, read = _streamed(
        (1.0, "POST POST /orders", 1, 201, 9.0, "k-1", "ab12"),
        (2.0, READ, 1, 200, 2.0, "", ""),
    )
    record, write = request_of(ack)
    assert record.ok
    assert record.missing_key == ""
    assert write is not None
    assert (write.key, write.payload_hash) == ("k-1", "ab12")
    assert request_of(read) == (RequestRecord(2.0, READ, True, 200, 2.0), None)


def test_the_recorder_counts_lost_reads_in_the_error_ratio_and_lists_them() -> None:
    clock, recorder = FakeClock(start_s=20.0), TrafficRecorder()
    for i in range(9):
        recorder.add(RequestRecord(15.0 + i * 0.5, READ, True, 200, 2.0))
    [line] = _streamed((19.0, READ, 0, 404, 3.0, "k-9", MISSING))
    recorder.add(request_of(line)[0])
    assert recorder.window(15.0, 20.0).error_ratio == 0.1
    assert not error_ratio_below(recorder, 0.01, window_s=5.0, clock=clock)().ok
    assert [r.missing_key for r in recorder.missing_reads()] == ["k-9"]
    assert recorder.missing_reads(since_s=19.5) == []
    assert recorder.outage() == (19.0, 19.0)
