"""An aggregated API server for ``custom.metrics.k8s.io``, serving the proxy's request rates.

It stands where prometheus-adapter stands on a real cluster, so the shop HPA's Pods metric
``http_requests_per_second`` is real to the upstream HPA controller (which will not scale in
while any of its metrics is missing). The API server reaches it through the APIService that
the daemon registers (`drills.sandbox.addons.aggregated_api`) and proxies every request with its
front-proxy client certificate.

``GET /apis/custom.metrics.k8s.io/{v1beta2|v1beta1}/namespaces/{ns}/pods/{name|*}/<metric>
?labelSelector=...`` answers a ``MetricValueList``. Which pods it lists:

- the pods the API server lists for ``labelSelector`` in ``ns`` (so any selector syntax works)
- that the proxy may route to now (reported at 0 when they had no request: a Ready endpoint
  that took no traffic truly serves 0 per second, and leaving it out would make the HPA assume
  the target value for it on a scale-in, i.e. keep idle pods), or that had requests within the
  window (like a Prometheus series that has not gone stale).

A pod that was never an endpoint (still starting, not Ready) is left out, as prometheus-adapter
leaves out a pod without a series: the HPA then counts it as 0 on a scale-up and as the target
on a scale-in, the conservative choice either way. ``metricLabelSelector`` is refused (400):
the metric has no labels to select on.

Authentication: with `ServingTls.client_ca` set, every API path needs a client certificate
from that CA whose common name is in `allowed_names` (the API server's
``--requestheader-allowed-names``); the health paths stay open. Skipped, as a sandbox may:
authorising the ``X-Remote-User`` the front proxy names (a real adapter asks the API server
with a SubjectAccessReview); every authenticated caller may read every metric.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from kubernetes import client
from kubernetes.client.rest import ApiException

from drills.core.clock import DrillClock, SystemClock
from drills.sandbox.node import custom_metrics_documents as docs
from drills.sandbox.node.request_rates import PodKey

__all__ = [
    "METRIC",
    "CustomMetricsServer",
    "PodLister",
    "PodRateSource",
    "SelectorError",
    "ServingTls",
    "kube_pod_lister",
    "select_rates",
]

METRIC = "http_requests_per_second"
_OPEN_PATHS = frozenset({"/healthz", "/readyz", "/livez"})
_BAD_REQUEST = 400
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PodRateSource(Protocol):
    """Per-pod request rates and the window they average over (the proxy is one)."""

    @property
    def rate_window_s(self) -> float:
        """Seconds each rate averages over."""
        ...

    def pod_rates(self) -> Mapping[PodKey, float]:
        """Requests per second per ``(namespace, pod)``."""
        ...


PodLister = Callable[[str, str], list[str]]
"""``(namespace, label_selector) -> pod names``; raises `SelectorError` for a bad selector."""


class SelectorError(ValueError):
    """The API server refused a label selector."""


def kube_pod_lister(api_client: Any) -> PodLister:
    """List pod names through the official client; the API server evaluates the selector."""
    core = client.CoreV1Api(api_client)

    def names(namespace: str, selector: str) -> list[str]:
        try:
            response = core.list_namespaced_pod(
                namespace, label_selector=selector, _preload_content=False
            )
        except ApiException as exc:
            if exc.status == _BAD_REQUEST:
                raise SelectorError(f"label selector {selector!r}: {exc.reason}") from exc
            raise
        return [str(pod["metadata"]["name"]) for pod in json.loads(response.data)["items"]]

    return names


def select_rates(
    rates: Mapping[PodKey, float], namespace: str, pods: Iterable[str], name: str = "*"
) -> list[docs.PodRate]:
    """The listed `pods` (or the one `name`) of `namespace` that have a rate."""
    return [
        docs.PodRate(namespace, pod, rates[(namespace, pod)])
        for pod in pods
        if (name in ("*", pod)) and (namespace, pod) in rates
    ]


@dataclass(frozen=True)
class ServingTls:
    """The server's certificate and, optionally, the CA and names its callers must present."""

    cert: Path
    key: Path
    client_ca: Path | None = None
    allowed_names: tuple[str, ...] = ("front-proxy-client",)

    def context(self) -> ssl.SSLContext:
        """A server-side TLS context (HTTP/1.1 only; client certificates optional)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        context.set_alpn_protocols(["http/1.1"])
        if self.client_ca is not None:
            context.load_verify_locations(cafile=str(self.client_ca))
            context.verify_mode = ssl.CERT_OPTIONAL
        return context


def _common_name(peercert: object) -> str | None:
    subject = peercert.get("subject", ()) if isinstance(peercert, dict) else ()
    for rdn in subject:
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def _json(body: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _failure(code: int, reason: str, message: str) -> web.Response:
    return _json(docs.status(code, reason, message), status=code)


def _static(body: Mapping[str, Any]) -> _Handler:
    """A handler that always answers `body`."""

    async def handle(_: web.Request) -> web.StreamResponse:
        return _json(body)

    return handle


class CustomMetricsServer:
    """HTTPS server of ``custom.metrics.k8s.io`` over one `PodRateSource`."""

    def __init__(  # noqa: PLR0913 - keyword-only settings of one listener
        self,
        rates: PodRateSource,
        pods: PodLister,
        tls: ServingTls,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        metric: str = METRIC,
        clock: DrillClock | None = None,
    ) -> None:
        """Prepare the server; `start()` binds it (port 0 picks a free one)."""
        self.rates, self.pods, self.tls = rates, pods, tls
        self.host, self.port, self.metric = host, port, metric
        self.clock = clock or SystemClock()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """``https://host:port``."""
        return f"https://{self.host}:{self.port}"

    async def start(self) -> str:
        """Bind and serve; returns the URL."""
        app = web.Application(middlewares=[self._authenticate])
        self._routes(app.router)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.tls.context())
        await site.start()
        if self.port == 0:
            server = getattr(site, "_server", None)
            if server is None or not server.sockets:
                raise RuntimeError("the custom-metrics server's socket is missing after start")
            self.port = int(server.sockets[0].getsockname()[1])
        return self.url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _routes(self, router: web.UrlDispatcher) -> None:
        base = f"/apis/{docs.GROUP}/{{version}}"
        for path in _OPEN_PATHS:
            router.add_get(path, self._ok)
        router.add_get("/apis", _static(docs.api_group_list()))
        router.add_get(f"/apis/{docs.GROUP}", _static(docs.api_group()))
        router.add_get(base, self._resources)
        router.add_get(base + "/namespaces/{namespace}/pods/{name}/{metric}", self._values)
        router.add_get("/openapi/v2", _static(docs.openapi_v2()))
        router.add_get("/openapi/v3", _static(docs.openapi_v3_root()))
        router.add_get(f"/openapi/v3/apis/{docs.GROUP}/{{version}}", self._openapi_v3)

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if self.tls.client_ca is None or request.path in _OPEN_PATHS:
            return await self._or_not_found(request, handler)
        transport = request.transport
        name = _common_name(transport.get_extra_info("peercert") if transport else None)
        if name is None:
            return _failure(401, "Unauthorized", "a client certificate is required")
        if self.tls.allowed_names and name not in self.tls.allowed_names:
            return _failure(403, "Forbidden", f"client certificate {name!r} is not allowed")
        return await self._or_not_found(request, handler)

    async def _or_not_found(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _failure(404, "NotFound", f"the server could not find {request.path}")
        except web.HTTPMethodNotAllowed:
            return _failure(405, "MethodNotAllowed", f"{request.method} is not supported")

    async def _ok(self, _: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    def _version(self, request: web.Request) -> str:
        version = request.match_info["version"]
        if version not in docs.VERSIONS:
            raise web.HTTPNotFound
        return version

    async def _resources(self, request: web.Request) -> web.StreamResponse:
        return _json(docs.api_resource_list(self._version(request), [self.metric]))

    async def _openapi_v3(self, request: web.Request) -> web.StreamResponse:
        return _json(docs.openapi_v3_group_version(self._version(request)))

    async def _values(self, request: web.Request) -> web.StreamResponse:
        version, info = self._version(request), request.match_info
        if info["metric"] != self.metric:
            text = f'the server could not find the metric "{info["metric"]}" for pods'
            return _failure(404, "NotFound", text)
        if request.query.get("metricLabelSelector"):
            text = f"metricLabelSelector is not supported: {self.metric} has no labels"
            return _failure(400, "BadRequest", text)
        namespace, name = info["namespace"], info["name"]
        rates = self.rates.pod_rates()
        selector = request.query.get("labelSelector", "")
        try:
            listed = await asyncio.to_thread(self.pods, namespace, selector)
        except SelectorError as exc:
            return _failure(400, "BadRequest", str(exc))
        found = select_rates(rates, namespace, listed, name)
        if name != "*" and not found:
            text = f'the server could not find the metric "{self.metric}" for pod {name}'
            return _failure(404, "NotFound", text)
        window_s, at = self.rates.rate_window_s, self.clock.wall()
        return _json(
            docs.metric_value_list(version, found, metric=self.metric, window_s=window_s, at=at)
        )
