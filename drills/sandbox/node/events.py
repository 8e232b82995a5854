"""Kubelet events: core/v1 Events from ``source.component=kubelet``, repeats folded into one.

Like client-go's event recorder (``tools/record``) that a kubelet uses:

- an event whose object, type, reason and message were already posted is not created again:
  the first one's ``count`` goes up and its ``lastTimestamp`` moves (a crash loop makes a
  handful of Events with growing counts, not hundreds of objects);
- a spam filter gives each involved object a burst of 25 events, then one more every 5 minutes;
- posting happens in the background, one at a time, from a bounded queue: an event that cannot
  be posted (queue full, API server down) is logged and dropped, and never fails a pod.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from drills.core.clock import DrillClock

__all__ = ["EventApi", "EventRecorder", "ObjectRef", "SpamFilter", "event_body"]

_log = logging.getLogger(__name__)
_CACHE_SIZE = 4096  # client-go's maxLruCacheEntries
_QUEUE_SIZE = 1000  # client-go's incoming queue length


class EventApi(Protocol):
    """Where events go (`drills.sandbox.node.apiclient.NodeApi` fits)."""

    def create_event(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create an Event."""
        ...

    def patch_event(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Merge-patch an Event."""
        ...


@dataclass(frozen=True)
class ObjectRef:
    """The object an event is about (a pod, or one of its containers)."""

    kind: str
    namespace: str
    name: str
    uid: str
    field_path: str = ""
    api_version: str = "v1"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def event_body(  # noqa: PLR0913 - the fields of one Event
    ref: ObjectRef, kind: str, reason: str, message: str, node: str, moment: datetime
) -> dict[str, Any]:
    """A new core/v1 Event, named ``<object>.<hex nanoseconds>`` as client-go names them."""
    nanos = int(moment.timestamp() * 1_000_000) * 1000
    involved = {
        "apiVersion": ref.api_version,
        "kind": ref.kind,
        "namespace": ref.namespace,
        "name": ref.name,
        "uid": ref.uid,
    }
    if ref.field_path:
        involved["fieldPath"] = ref.field_path
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{ref.name}.{nanos:x}", "namespace": ref.namespace},
        "involvedObject": involved,
        "type": kind,
        "reason": reason,
        "message": message,
        "source": {"component": "kubelet", "host": node},
        "reportingComponent": "kubelet",
        "reportingInstance": node,
        "firstTimestamp": _stamp(moment),
        "lastTimestamp": _stamp(moment),
        "count": 1,
    }


class SpamFilter:
    """A token bucket per involved object: `burst` events, then one per `refill_s` seconds."""

    def __init__(self, clock: DrillClock, *, burst: int = 25, refill_s: float = 300.0) -> None:
        """client-go's defaults: burst 25, one token per 5 minutes."""
        self._clock, self._burst, self._refill_s = clock, burst, refill_s
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        """Spend a token of `key`'s bucket; False when it is empty."""
        now = self._clock.now()
        tokens, since = self._buckets.pop(key, (float(self._burst), now))
        tokens = min(float(self._burst), tokens + (now - since) / self._refill_s)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > _CACHE_SIZE:
            self._buckets.popitem(last=False)
        return allowed


@dataclass
class _Posted:
    name: str
    count: int


_Key = tuple[str, str, str, str, str]  # object uid, field path, type, reason, message


class EventRecorder:
    """Queues a node's events and posts them in order, folding repeats into counts."""

    def __init__(
        self, api: EventApi, node: str, *, clock: DrillClock, wall: Callable[[], datetime]
    ) -> None:
        """Post as kubelet of `node`; call `start()` inside the event loop."""
        self.api, self.node = api, node
        self._wall = wall
        self._spam = SpamFilter(clock)
        self._posted: OrderedDict[_Key, _Posted] = OrderedDict()
        self._queue: asyncio.Queue[tuple[ObjectRef, str, str, str, datetime]] = asyncio.Queue(
            _QUEUE_SIZE
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start posting."""
        self._task = asyncio.get_running_loop().create_task(self._post_all(), name="events")

    async def close(self) -> None:
        """Stop posting (queued events are dropped)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def drain(self) -> None:
        """Wait until every queued event was posted (or dropped)."""
        await self._queue.join()

    def record(self, ref: ObjectRef, kind: str, reason: str, message: str) -> None:
        """Queue one event; never raises."""
        if not self._spam.allow(f"{ref.uid}/{ref.kind}/{ref.name}"):
            return
        try:
            self._queue.put_nowait((ref, kind, reason, message, self._wall()))
        except asyncio.QueueFull:
            _log.warning("node %s: event queue full, dropped %s %s", self.node, reason, ref.name)

    async def _post_all(self) -> None:
        while True:
            ref, kind, reason, message, moment = await self._queue.get()
            try:
                await asyncio.to_thread(self._post, ref, kind, reason, message, moment)
            except Exception as exc:  # an event never fails anything
                _log.warning("node %s: could not post event %s: %s", self.node, reason, exc)
            finally:
                self._queue.task_done()

    def _post(self, ref: ObjectRef, kind: str, reason: str, message: str, moment: datetime) -> None:
        key = (ref.uid, ref.field_path, kind, reason, message)
        posted = self._posted.get(key)
        if posted is not None:
            patch = {"count": posted.count + 1, "lastTimestamp": _stamp(moment)}
            try:
                self.api.patch_event(ref.namespace, posted.name, patch)
                posted.count += 1
                self._posted.move_to_end(key)
                return
            except Exception:  # gone or expired: post it anew
                self._posted.pop(key, None)
        body = event_body(ref, kind, reason, message, self.node, moment)
        self.api.create_event(ref.namespace, body)
        self._posted[key] = _Posted(str(body["metadata"]["name"]), 1)
        while len(self._posted) > _CACHE_SIZE:
            self._posted.popitem(last=False)
