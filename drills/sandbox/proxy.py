"""The sandbox's Service proxy: one stable loopback port in front of a Service's ready pods.

It plays the part of a Service with an Ingress in front: every request goes to the next ready
endpoint, round-robin; with no ready endpoint it answers ``503`` with a short text body, and a
backend that fails (refuses, resets, or dies mid-request) gives ``502``, so user traffic sees an
outage exactly as a user of a real cluster would. Each request is counted per backend pod; the
daemon turns the counts into requests per second for the metrics registry (the HPA's
``requests_per_second`` pods metric).

Where the endpoints come from is a function (`EndpointSource`); `store_endpoints` reads the
Service's ``Endpoints`` object (only its ``addresses``, the ready ones) and, while the
endpoints controller has not written one, falls back to the Ready pods the Service selects.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from drills.sandbox.apiserver.store import StoreReader

__all__ = ["Backend", "EndpointSource", "ServiceProxy", "store_endpoints"]

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


@dataclass(frozen=True)
class Backend:
    """One ready endpoint: the pod behind it and where it listens."""

    namespace: str
    pod: str
    ip: str
    port: int

    @property
    def base_url(self) -> str:
        """``http://ip:port``."""
        return f"http://{self.ip}:{self.port}"


EndpointSource = Callable[[], list[Backend]]


def _from_endpoints(endpoints: dict[str, Any], namespace: str) -> list[Backend]:
    found: list[Backend] = []
    for subset in endpoints.get("subsets") or []:
        ports = subset.get("ports") or [{"port": 80}]
        for address in subset.get("addresses") or []:
            pod = (address.get("targetRef") or {}).get("name", address["ip"])
            found.append(Backend(namespace, str(pod), str(address["ip"]), int(ports[0]["port"])))
    return found


def _pod_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return ready and "deletionTimestamp" not in pod.get("metadata", {})


def _target_port(service: dict[str, Any], pod: dict[str, Any]) -> int:
    port = (service.get("spec", {}).get("ports") or [{"port": 80}])[0]
    target = port.get("targetPort", port.get("port", 80))
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    for container in pod.get("spec", {}).get("containers", []):
        for spec in container.get("ports", []):
            if spec.get("name") == target:
                return int(spec["containerPort"])
    return int(port.get("port", 80))


def store_endpoints(store: StoreReader, namespace: str, service: str) -> EndpointSource:
    """Ready backends of a Service, read from the object store on every call."""

    def backends() -> list[Backend]:
        endpoints = store.try_get("endpoints", namespace, service)
        if endpoints is not None:
            return _from_endpoints(endpoints, namespace)
        svc = store.try_get("services", namespace, service)
        selector = (svc or {}).get("spec", {}).get("selector") or {}
        if svc is None or not selector:
            return []
        labels = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
        pods, _ = store.list("pods", namespace, label_selector=labels)
        return [
            Backend(namespace, p["metadata"]["name"], p["status"]["podIP"], _target_port(svc, p))
            for p in pods
            if _pod_ready(p) and p.get("status", {}).get("podIP")
        ]

    return backends


class ServiceProxy:
    """Round-robin HTTP proxy over the ready backends a source names."""

    def __init__(  # noqa: PLR0913 - keyword-only settings of one listener
        self,
        source: EndpointSource,
        *,
        name: str = "default/shop",
        host: str = "127.0.0.1",
        port: int = 0,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 2.0,
    ) -> None:
        """Prepare the proxy; `start()` binds it (port 0 picks a free one)."""
        self.source = source
        self.name = name
        self.host = host
        self.port = port
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self.requests: Counter[tuple[str, str]] = Counter()
        self._turn = itertools.count()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        """The service URL users call."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        """Bind and serve; returns the service URL."""
        app = web.Application(client_max_size=16 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = getattr(site, "_server", None)
        if self.port == 0 and server is not None and server.sockets:
            self.port = int(server.sockets[0].getsockname()[1])
        self._session = aiohttp.ClientSession(timeout=self.timeout, auto_decompress=False)
        return self.url

    async def stop(self) -> None:
        """Stop serving and close upstream connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def pick(self) -> Backend | None:
        """The next ready backend, round-robin; None when there is none."""
        backends = sorted(self.source(), key=lambda b: (b.pod, b.ip))
        if not backends:
            return None
        return backends[next(self._turn) % len(backends)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        backend = self.pick()
        if backend is None:
            text = f"503 Service Unavailable: no ready endpoints for service {self.name}\n"
            return web.Response(status=503, text=text)
        self.requests[(backend.namespace, backend.pod)] += 1
        return await self._forward(request, backend)

    async def _forward(self, request: web.Request, backend: Backend) -> web.StreamResponse:
        assert self._session is not None  # start() ran before any request
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["X-Forwarded-For"] = request.remote or ""
        body = await request.read()
        url = backend.base_url + request.rel_url.path_qs
        try:
            async with self._session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False
            ) as upstream:
                payload = await upstream.read()
                out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
                return web.Response(status=upstream.status, body=payload, headers=out)
        except (aiohttp.ClientError, TimeoutError, asyncio.IncompleteReadError) as exc:
            text = f"502 Bad Gateway: pod {backend.pod} ({backend.ip}:{backend.port}) failed: "
            return web.Response(status=502, text=text + f"{type(exc).__name__}\n")
