"""The pods bound to one node, listed then watched in a thread, handed to the event loop.

`PodWatcher` does what a kubelet's pod informer does with ``fieldSelector=spec.nodeName=<node>``:
list (the whole set, delivered as one ``SYNC`` batch so pods deleted while nobody watched are
noticed), then watch from the list's resourceVersion. A watch the server ends after
``timeout_s`` is resumed from the last resourceVersion seen (bookmarks included); ``410 Gone``
(the version left etcd's window) starts over with a list; any other failure is retried after a
back-off doubling from 0.2 s to 5 s. Each batch reaches the loop through
``loop.call_soon_threadsafe(deliver, kind, objects)``. `stop()` aborts the blocked read and
joins the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from drills.sandbox.node.apiclient import ApiError, Json, NodeApi, PodWatch

__all__ = ["SYNC", "Deliver", "PodWatcher", "retry_delay_s"]

SYNC = "SYNC"
Deliver = Callable[[str, list[Json]], None]
"""deliver(kind, pods): kind is SYNC (the whole set), ADDED, MODIFIED or DELETED."""

_log = logging.getLogger(__name__)


def retry_delay_s(failures: int, *, first_s: float = 0.2, most_s: float = 5.0) -> float:
    """Seconds to wait after `failures` failures in a row: doubling, capped at `most_s`."""
    return min(most_s, first_s * 2.0 ** max(0, failures - 1))


class _Relist(Exception):
    """The watch cannot resume: list again."""


class PodWatcher:
    """Lists and watches the pods of one node until `stop()`."""

    def __init__(
        self,
        api: NodeApi,
        node: str,
        deliver: Deliver,
        loop: asyncio.AbstractEventLoop,
        *,
        timeout_s: int = 300,
    ) -> None:
        """Deliver batches to `deliver` on `loop`; call `start()`."""
        self.api, self.node, self.timeout_s = api, node, timeout_s
        self._deliver, self._loop = deliver, loop
        self._selector = f"spec.nodeName={node}"
        self._stopping = threading.Event()
        self._watch: PodWatch | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"pod watch {node}", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """End the watch and wait for the thread (at most `timeout_s`)."""
        self._stopping.set()
        with self._lock:
            if self._watch is not None:
                self._watch.abort()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                version = self._list()
                failures = 0
                while not self._stopping.is_set():
                    version = self._watch_from(version)
            except _Relist:
                continue
            except ApiError as exc:
                failures += 1
                if not self._stopping.is_set():
                    _log.warning("node %s: pod watch failed (%s); retrying", self.node, exc)
                self._stopping.wait(retry_delay_s(failures))

    def _list(self) -> str:
        pods, version = self.api.list_pods(self._selector)
        self._hand_over(SYNC, pods)
        return version

    def _watch_from(self, version: str) -> str:
        watch = self.api.watch_pods(self._selector, version, self.timeout_s)
        with self._lock:
            self._watch = watch
        if self._stopping.is_set():
            watch.abort()
        try:
            for event in watch:
                version = self._handle(event, version)
        except ApiError as exc:
            if exc.gone:
                raise _Relist from exc
            raise
        finally:
            with self._lock:
                self._watch = None
        return version

    def _handle(self, event: Json, version: str) -> str:
        kind, obj = str(event.get("type")), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _Relist
            raise ApiError(int(obj.get("code") or 0), str(obj.get("message", "watch error")))
        found = str((obj.get("metadata") or {}).get("resourceVersion") or version)
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            self._hand_over(kind, [obj])
        return found

    def _hand_over(self, kind: str, pods: list[Json]) -> None:
        if not self._stopping.is_set():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._deliver, kind, pods)
