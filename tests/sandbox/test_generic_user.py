"""The generic user in a real Locust process: journeys from the profile, acknowledged by key.

A small in-process notes service (PUT stores, GET answers 200 or 404) stands in for a team's
service. The user must stream each acknowledged PUT by key alone (hash `KEY_ONLY`), read back
only keys it saw acknowledged, and report a read of a key deleted behind the service's back as
a lost write (404, `missing_key`), never as an acknowledgement.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from drills.core.clock import SystemClock
from drills.core.journeys import journeys_json, parse_journeys
from drills.core.services import KEY_ONLY
from drills.core.waiting import wait_until
from drills.load.pacing import JOURNEYS_ENV
from drills.load.shapes import Steady
from drills.load.traffic import TrafficRecorder
from drills.targets.adapters.locust_load import LocustLoad
from fixtures.load import GENERIC_LOCUSTFILE
from tests.plugin.fake_http import QuietHandler, serving

pytestmark = pytest.mark.sandbox

CLOCK = SystemClock()
JOURNEYS = parse_journeys(
    [
        {
            "name": "write",
            "method": "PUT",
            "path": "/notes/{key}",
            "body": '{"n": {n}}',
            "expect": [201],
            "ack": True,
        },
        {"name": "read", "path": "/notes/{key}", "read_of": "write", "weight": 3},
    ],
    "journeys",
)


_NOTES: dict[str, bytes] = {}  # path -> body, what the little service keeps
_LOCK = threading.Lock()


class _Notes(QuietHandler):
    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with _LOCK:
            _NOTES[self.path] = body
        self.reply(201, b"")

    def do_GET(self) -> None:
        with _LOCK:
            found = self.path in _NOTES
        self.reply(200 if found else 404, b"")


def _alive_and(load: LocustLoad, holds: bool) -> bool:
    load.check_running()  # a Locust that died fails the wait at once, with its log
    return holds


def test_journeys_acknowledge_by_key_and_a_deleted_key_reads_as_lost(tmp_path: Path) -> None:
    recorder = TrafficRecorder()
    with serving(_Notes) as url:
        load = LocustLoad(
            GENERIC_LOCUSTFILE,
            url,
            sink=recorder.add,
            log_dir=tmp_path,
            wait_s=(0.01, 0.02),
            extra_env={JOURNEYS_ENV: journeys_json(JOURNEYS)},
        )
        with load:
            load.start(Steady(users=4, spawn_rate=100.0))
            wait_until(
                lambda: _alive_and(load, len(load.acknowledged()) >= 50),
                clock=CLOCK,
                timeout_s=30,
                poll_s=0.05,
                description="50 acknowledged writes",
            )
            with _LOCK:
                deleted = {path.rsplit("/", 1)[1] for path in _NOTES}
                _NOTES.clear()  # behind the service's back
            wait_until(
                lambda: bool(recorder.missing_reads()),
                clock=CLOCK,
                timeout_s=30,
                poll_s=0.05,
                description="a read of a deleted note",
            )
        acks = load.acknowledged()
    assert {a.payload_hash for a in acks} == {KEY_ONLY}
    lost = {r.missing_key for r in recorder.missing_reads()}
    assert lost <= deleted
    assert all(not r.ok and r.status == 404 for r in recorder.missing_reads())
    reads = [r for r in recorder.records() if r.name == "GET /notes/{key}"]
    assert any(r.ok and r.status == 200 for r in reads)  # read-backs of kept notes succeed
    puts = [r for r in recorder.records() if r.name == "PUT /notes/{key}"]
    assert len(puts) >= len(acks)
    assert all(r.status == 201 for r in puts if r.ok)
