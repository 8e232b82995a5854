"""A Service's EndpointSlices, kept current by list+watch in a thread of its own.

`SliceSource` lists the slices labelled ``kubernetes.io/service-name=<service>``, then watches
them from the list's resourceVersion, and keeps them in a lock-protected cache from which the
proxy reads its backends (recomputed once per change, not per request). A watch that the
server ends (``timeout_seconds``) is resumed from the last resourceVersion seen (bookmarks
included); a ``410 Gone`` (the version fell out of etcd's window) starts again with a fresh
list; any other failure is retried after a back-off that doubles from 0.2 s up to 5 s.

The Service itself is read by name on every (re)list and watch restart: its port's name is the
key under which the slices list the resolved target port. While the Service does not exist yet,
a slice with a single port is taken at its word.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from drills.sandbox.node.endpoints import (
    Backend,
    Candidate,
    Json,
    candidates,
    service_port_name,
    usable_backends,
)

__all__ = ["SERVICE_NAME_LABEL", "SliceSource", "backoff_s", "slice_source"]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
_GONE = 410
_NOT_FOUND = 404
_log = logging.getLogger(__name__)


class _Expired(Exception):
    """The watch's resourceVersion is no longer served: list again."""


def backoff_s(failures: int, *, first_s: float = 0.2, most_s: float = 5.0) -> float:
    """Seconds to wait after `failures` failures in a row: doubling, capped at `most_s`."""
    return min(most_s, first_s * 2.0 ** max(0, failures - 1))


def _events(response: Any) -> Iterator[Json]:
    for line in iter_resp_lines(response):
        if line.strip():
            yield json.loads(line)


class SliceSource:
    """The backends of one Service, as its EndpointSlices list them; an `EndpointSource`."""

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        service: str,
        *,
        port: int | str | None = None,
        watch_timeout_s: int = 30,
    ) -> None:
        """Follow Service `namespace/service`, port `port` (name or number; None: the first)."""
        self.namespace, self.service, self.port = namespace, service, port
        self.watch_timeout_s = watch_timeout_s
        self.last_error: Exception | None = None
        self._core = client.CoreV1Api(api_client)
        self._discovery = client.DiscoveryV1Api(api_client)
        self._selector = f"{SERVICE_NAME_LABEL}={service}"
        self._slices: dict[str, Json] = {}
        self._port_name: str | None = None
        self._found: list[Candidate] = []
        self._backends: list[Backend] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._synced = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: Any = None

    def __call__(self) -> list[Backend]:
        """The backends traffic may go to now (ready ones, else serving-terminating ones)."""
        return list(self._backends)

    def candidates(self) -> list[Candidate]:
        """Every listed endpoint with its conditions."""
        return list(self._found)

    def start(self) -> None:
        """Start the list+watch thread (returns at once; see `wait_synced`)."""
        self._stopping.clear()
        name = f"slices-{self.namespace}-{self.service}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def wait_synced(self, timeout_s: float) -> bool:
        """Block until the first list has been read; False after `timeout_s`."""
        return self._synced.wait(timeout_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        """End the watch and wait for the thread."""
        self._stopping.set()
        self._interrupt()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _interrupt(self) -> None:
        # A blocked read ends only when its socket does; the client offers no other way.
        connection = getattr(self._response, "connection", None)
        sock = getattr(connection, "sock", None)
        if isinstance(sock, socket.socket):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                version = self._relist()
                while not self._stopping.is_set():
                    version = self._watch(version)
                    failures = 0
            except _Expired:
                continue
            except Exception as exc:  # the loop must outlive any one failure
                if self._stopping.is_set():
                    return
                failures += 1
                self.last_error = exc
                _log.warning("endpoint slices of %s: %s (retry %d)", self.service, exc, failures)
                self._stopping.wait(backoff_s(failures))

    def _read_port_name(self) -> str | None:
        try:
            response = self._core.read_namespaced_service(
                self.service, self.namespace, _preload_content=False
            )
        except ApiException as exc:
            if exc.status == _NOT_FOUND:
                return None
            raise
        return service_port_name(json.loads(response.data), self.port)

    def _relist(self) -> str:
        port_name = self._read_port_name()
        listed = json.loads(
            self._discovery.list_namespaced_endpoint_slice(
                self.namespace, label_selector=self._selector, _preload_content=False
            ).data
        )
        with self._lock:
            self._port_name = port_name
            self._slices = {item["metadata"]["name"]: item for item in listed.get("items") or []}
            self._recompute()
        self._synced.set()
        return str(listed["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> str:
        port_name = self._read_port_name()
        with self._lock:
            self._port_name = port_name
            self._recompute()
        self._response = self._open_watch(version)
        try:
            for event in _events(self._response):
                version = self._apply(event) or version
        finally:
            response, self._response = self._response, None
            response.close()
            response.release_conn()
        return version

    def _open_watch(self, version: str) -> Any:
        try:
            return self._discovery.list_namespaced_endpoint_slice(
                self.namespace,
                label_selector=self._selector,
                watch=True,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=self.watch_timeout_s,
                _preload_content=False,
                _request_timeout=(5, self.watch_timeout_s + 10),
            )
        except ApiException as exc:
            if exc.status == _GONE:
                raise _Expired from exc
            raise

    def _apply(self, event: Json) -> str | None:
        kind, body = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if body.get("code") == _GONE:
                raise _Expired
            raise RuntimeError(f"watch failed: {body.get('code')} {body.get('message')}")
        metadata = body.get("metadata") or {}
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            port_name = self._port_name
            if port_name is None:
                port_name = self._read_port_name()
            with self._lock:
                self._port_name = port_name
                self._store(str(kind), metadata.get("name"), body)
                self._recompute()
        version = metadata.get("resourceVersion")
        return None if version is None else str(version)

    def _store(self, kind: str, name: object, body: Json) -> None:
        if kind == "DELETED":
            self._slices.pop(str(name), None)
        else:
            self._slices[str(name)] = body

    def _recompute(self) -> None:
        self._found = candidates(self._slices.values(), self.namespace, self._port_name)
        self._backends = usable_backends(self._found)


def slice_source(
    api_client: Any, namespace: str, service: str, *, port: int | str | None = None
) -> SliceSource:
    """A `SliceSource` for Service `namespace/service` (call `start()` before serving)."""
    return SliceSource(api_client, namespace, service, port=port)
