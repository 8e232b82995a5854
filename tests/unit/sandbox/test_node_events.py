"""Kubelet events: repeats fold into counts, spam is capped, failures never escape."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from drills.core.clock import FakeClock
from drills.sandbox.node.events import EventRecorder, ObjectRef, SpamFilter, event_body

REF = ObjectRef("Pod", "default", "shop-a", "u-1", field_path="spec.containers{shop}")
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeEvents:
    def __init__(self, *, fail_creates: int = 0) -> None:
        self.created: list[dict[str, Any]] = []
        self.patched: list[tuple[str, dict[str, Any]]] = []
        self.fail_creates = fail_creates

    def create_event(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.fail_creates:
            self.fail_creates -= 1
            raise ConnectionError("API server down")
        self.created.append(body)
        return body

    def patch_event(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.patched.append((name, patch))
        return patch


def post(api: FakeEvents, clock: FakeClock, events: list[tuple[str, str, str]]) -> None:
    async def scenario() -> None:
        recorder = EventRecorder(api, "sandbox-node-1", clock=clock, wall=clock.wall)
        recorder.start()
        for kind, reason, message in events:
            recorder.record(REF, kind, reason, message)
            clock.advance(1)
        await asyncio.wait_for(recorder.drain(), timeout=5)
        await recorder.close()

    asyncio.run(scenario())


def test_an_event_looks_like_the_kubelets() -> None:
    body = event_body(REF, "Warning", "BackOff", "Back-off restarting", "sandbox-node-1", START)
    assert body["metadata"]["name"].startswith("shop-a.")
    assert body["source"] == {"component": "kubelet", "host": "sandbox-node-1"}
    assert body["involvedObject"]["fieldPath"] == "spec.containers{shop}"
    assert body["involvedObject"]["uid"] == "u-1"
    assert (body["count"], body["firstTimestamp"]) == (1, "2026-01-01T12:00:00Z")


def test_repeats_patch_the_first_event_count() -> None:
    api, clock = FakeEvents(), FakeClock(wall_start=START)
    crash_loop = [("Warning", "BackOff", "Back-off restarting failed container")] * 5
    post(api, clock, [("Normal", "Started", "Started container shop"), *crash_loop])
    assert [event["reason"] for event in api.created] == ["Started", "BackOff"]
    assert [patch["count"] for _, patch in api.patched] == [2, 3, 4, 5]
    assert {name for name, _ in api.patched} == {api.created[1]["metadata"]["name"]}


def test_a_failed_post_is_dropped_and_the_next_one_goes_through() -> None:
    api, clock = FakeEvents(fail_creates=1), FakeClock(wall_start=START)
    post(api, clock, [("Normal", "Pulled", "one"), ("Normal", "Created", "two")])
    assert [event["reason"] for event in api.created] == ["Created"]


def test_spam_filter_allows_a_burst_then_one_per_refill() -> None:
    clock = FakeClock()
    spam = SpamFilter(clock, burst=3, refill_s=300)
    assert [spam.allow("pod") for _ in range(4)] == [True, True, True, False]
    assert spam.allow("other")
    clock.advance(300)
    assert spam.allow("pod")
    assert not spam.allow("pod")
