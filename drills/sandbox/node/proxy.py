"""The sandbox's Service proxy: one stable loopback port in front of a Service's endpoints.

It plays the part of a Service with an Ingress in front of it (what users reach at
``service_url``): every request goes to the next backend, round-robin, over the endpoints the
Service's EndpointSlices call ready; when none is ready, over those still serving while they
terminate (kube-proxy's rule); with none at all it answers ``503`` with a short text body, and
a backend that fails (refuses, resets, dies mid-request) gives ``502``, so user traffic sees an
outage exactly as a user of a real cluster would. Backends are pod IPs on the sandbox bridge.

Every request is counted per backend pod (the endpoint's ``targetRef`` name): `requests` holds
the running totals and `rates` the sliding-window rate that the custom-metrics API serves to
the HPA as ``http_requests_per_second``.

Where the endpoints come from is any callable returning backends (`EndpointSource`);
`slice_source` builds the one that follows the Service's EndpointSlices through the API server.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import aiohttp
from aiohttp import web
from kubernetes import config

from drills.core.clock import DrillClock
from drills.sandbox.node.endpoints import Backend
from drills.sandbox.node.request_rates import PodKey, RequestRates
from drills.sandbox.node.slices import SliceSource, slice_source

__all__ = ["Backend", "EndpointSource", "ServiceProxy", "SliceSource", "connect", "slice_source"]


def connect(kubeconfig: Path) -> Any:
    """An official-client API client for the proxy's own identity (from its kubeconfig)."""
    return config.new_client_from_config(config_file=str(kubeconfig))


EndpointSource = Callable[[], list[Backend]]

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


_REPLACED = _HOP_BY_HOP | {"x-forwarded-for"}  # sent on with this hop appended


class ServiceProxy:
    """Round-robin HTTP proxy over the backends a source names, counting requests per pod."""

    def __init__(  # noqa: PLR0913 - keyword-only settings of one listener
        self,
        source: EndpointSource,
        *,
        name: str = "default/shop",
        host: str = "127.0.0.1",
        port: int = 0,
        also_on: tuple[str, ...] = (),
        timeout_s: float = 30.0,
        connect_timeout_s: float = 2.0,
        rate_window_s: float = 5.0,
        clock: DrillClock | None = None,
    ) -> None:
        """Prepare the proxy; `start()` binds it (port 0 picks a free one).

        `rate_window_s` is the sliding window of the per-pod request rate (see `rates`).
        `also_on` lists more addresses served on the same port, e.g. the pod network's gateway,
        where in-cluster load generators reach the service (`url_on`).
        """
        self.source = source
        self.name = name
        self.host = host
        self.port = port
        self.also_on = also_on
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self.requests: Counter[PodKey] = Counter()
        self.rates = RequestRates(window_s=rate_window_s, clock=clock)
        self._turn = itertools.count()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        """The service URL users call."""
        return f"http://{self.host}:{self.port}"

    def url_on(self, host: str) -> str:
        """The service URL at another address it serves (one of `also_on`)."""
        return f"http://{host}:{self.port}"

    @property
    def rate_window_s(self) -> float:
        """The window, in seconds, `pod_rates` averages over."""
        return self.rates.window_s

    def pod_rates(self) -> dict[PodKey, float]:
        """Requests per second per pod, over `rate_window_s`.

        Every pod traffic may go to now is listed (0 when idle), and any pod whose requests
        are still inside the window; see `drills.sandbox.node.request_rates`.
        """
        return self.rates.rates(backend.key for backend in self.source())

    async def start(self) -> str:
        """Bind and serve; returns the service URL."""
        app = web.Application(client_max_size=16 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            self.port = _bound_port(site)
        for host in self.also_on:
            await web.TCPSite(self._runner, host, self.port, reuse_address=True).start()
        self._session = aiohttp.ClientSession(timeout=self.timeout, auto_decompress=False)
        return self.url

    async def stop(self) -> None:
        """Stop serving and close upstream connections (the source is the caller's to stop)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def pick(self) -> Backend | None:
        """The next backend, round-robin in a stable order; None when there is none."""
        backends = sorted(self.source(), key=lambda b: (b.pod, b.ip, b.port))
        if not backends:
            return None
        self.rates.serving(backend.key for backend in backends)
        return backends[next(self._turn) % len(backends)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        backend = self.pick()
        if backend is None:
            text = f"503 Service Unavailable: no ready endpoints for service {self.name}\n"
            return web.Response(status=503, text=text)
        self.requests[backend.key] += 1
        self.rates.record(backend.key)
        return await self._forward(request, backend)

    async def _forward(self, request: web.Request, backend: Backend) -> web.StreamResponse:
        assert self._session is not None  # start() ran before any request
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _REPLACED}
        headers["X-Forwarded-For"] = forwarded_for(
            request.headers.get("X-Forwarded-For"), request.remote
        )
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


def forwarded_for(incoming: str | None, peer: str | None) -> str:
    """The X-Forwarded-For to send on: the client's chain with this hop's peer appended.

    An ingress appends rather than replaces, so a client that names itself (the DDoS drill's
    attackers and users each carry their own address on loopback) stays visible to the shop.
    """
    chain = [part.strip() for part in (incoming or "").split(",") if part.strip()]
    return ", ".join([*chain, peer or ""]) if chain else peer or ""


def _bound_port(site: web.TCPSite) -> int:
    """The port the OS chose for a site bound to port 0."""
    server = cast("asyncio.base_events.Server | None", getattr(site, "_server", None))
    if server is None or not server.sockets:
        raise RuntimeError("the proxy's listening socket is missing after start")
    return int(server.sockets[0].getsockname()[1])
