"""SliceSource's list+watch loop against a scripted fake of the discovery API (no sockets)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

from kubernetes.client.rest import ApiException

from drills.sandbox.node.endpoints import Backend
from drills.sandbox.node.slices import SliceSource, backoff_s

SERVICE = {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def endpoint(pod: str, ip: str, *, ready: bool = True) -> dict[str, Any]:
    return {"addresses": [ip], "conditions": {"ready": ready}, "targetRef": {"name": pod}}


def shop_slice(version: str, *endpoints: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "shop-x", "resourceVersion": version},
        "ports": [{"name": "http", "port": 8080}],
        "endpoints": list(endpoints),
    }


class Response:
    """What `_preload_content=False` returns: a body, or a stream of watch lines."""

    def __init__(self, data: Any = None, lines: list[dict[str, Any]] | None = None) -> None:
        self.data = json.dumps(data).encode()
        self.lines = lines or []
        self.connection = None

    def stream(self, amt: Any = None, decode_content: bool = False) -> Iterator[bytes]:
        for line in self.lines:
            yield (json.dumps(line) + "\n").encode()

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


class FakeDiscovery:
    """Answers lists from `lists` and watches from `watches`, in order; records the calls."""

    def __init__(self) -> None:
        self.lists: queue.Queue[Any] = queue.Queue()
        self.watches: queue.Queue[list[dict[str, Any]]] = queue.Queue()
        self.selectors: list[str] = []
        self.watched_from: list[str] = []
        self.drained = threading.Event()

    def list_namespaced_endpoint_slice(
        self, namespace: str, *, label_selector: str, watch: bool = False, **options: Any
    ) -> Response:
        self.selectors.append(label_selector)
        if not watch:
            listed = self.lists.get_nowait()
            if isinstance(listed, Exception):
                raise listed
            return Response(data=listed)
        self.watched_from.append(options["resource_version"])
        try:
            return Response(lines=self.watches.get_nowait())
        except queue.Empty:
            self.drained.set()
            threading.Event().wait(0.01)  # an idle watch the server ends soon
            return Response(lines=[])


class FakeCore:
    """The Service, read by name."""

    def read_namespaced_service(self, name: str, namespace: str, **_: Any) -> Response:
        return Response(data=SERVICE)


def listing(version: str, *slices: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": version}, "items": list(slices)}


def source_with(discovery: FakeDiscovery) -> SliceSource:
    source = SliceSource(None, "default", "shop")
    source._core = FakeCore()  # the generated client offers no seam but its API handles
    source._discovery = discovery
    return source


def test_watch_events_update_backends_and_410_relists() -> None:
    discovery = FakeDiscovery()
    discovery.lists.put(listing("10", shop_slice("9", endpoint("a", "10.244.5.2"))))
    discovery.watches.put(
        [
            {
                "type": "MODIFIED",
                "object": shop_slice(
                    "11", endpoint("a", "10.244.5.2", ready=False), endpoint("b", "10.244.5.3")
                ),
            },
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "12"}}},
        ]
    )
    discovery.watches.put([{"type": "ERROR", "object": {"code": 410, "message": "too old"}}])
    discovery.lists.put(listing("20", shop_slice("19", endpoint("c", "10.244.5.4"))))
    discovery.watches.put([{"type": "DELETED", "object": shop_slice("21")}])
    source = source_with(discovery)
    source.start()
    try:
        assert source.wait_synced(5)
        assert discovery.drained.wait(5)
    finally:
        source.stop()
    assert discovery.watched_from[:4] == ["10", "12", "20", "21"]
    assert discovery.lists.empty()
    assert source() == []
    assert set(discovery.selectors) == {"kubernetes.io/service-name=shop"}


def test_the_last_listed_state_gives_ready_backends_on_the_service_port() -> None:
    discovery = FakeDiscovery()
    ready = shop_slice(
        "3",
        endpoint("b", "10.244.5.3"),
        endpoint("a", "10.244.5.2"),
        endpoint("x", "10.244.5.9", ready=False),
    )
    discovery.lists.put(listing("4", ready))
    source = source_with(discovery)
    source.start()
    try:
        assert source.wait_synced(5)
        backends = source()
    finally:
        source.stop()
    assert backends == [
        Backend("default", "a", "10.244.5.2", 8080),
        Backend("default", "b", "10.244.5.3", 8080),
    ]
    assert [c.ready for c in source.candidates()] == [True, True, False]


def test_a_failed_list_is_retried_after_a_back_off() -> None:
    discovery = FakeDiscovery()
    discovery.lists.put(ApiException(status=503, reason="Service Unavailable"))
    discovery.lists.put(listing("7", shop_slice("6", endpoint("a", "10.244.5.2"))))
    source = source_with(discovery)
    source.start()
    try:
        assert source.wait_synced(5)
    finally:
        source.stop()
    assert isinstance(source.last_error, ApiException)
    assert [b.pod for b in source()] == ["a"]


def test_back_off_doubles_and_is_capped() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4, 5, 6, 9)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
