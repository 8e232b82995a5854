"""The kubelet's HTTPS API, the part of it the API server and metrics-server call.

Served with aiohttp over TLS with the node's serving certificate; every client must present a
certificate signed by the sandbox CA (the API server's kubelet client identity, metrics-server's).

- ``GET /healthz``: ``ok``.
- ``GET /containerLogs/{namespace}/{pod}/{container}``: what ``kubectl logs`` reaches through
  the API server's ``pods/log`` proxy, with the query parameters the API server forwards:
  ``follow``, ``previous``, ``tailLines`` (or the older ``tail``), ``limitBytes``,
  ``timestamps``, ``sinceSeconds``, ``sinceTime``. Following ends when the container's run
  ends, as with a real kubelet.
- ``GET /metrics/resource``: CPU and memory of the node and of its running containers in the
  Prometheus text format metrics-server decodes (`drills.sandbox.node.usage`).
- ``/exec``, ``/attach``, ``/portForward``, ``/run``: a clear error, because pods here are plain
  processes and the streaming protocols are not implemented.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from aiohttp import web

from drills.sandbox.node.custom_metrics_documents import status
from drills.sandbox.node.logs import ContainerLog, LogOptions, render
from drills.sandbox.node.usage import ContainerUsage, Usage, resource_metrics_text

__all__ = ["NOT_STREAMING", "KubeletApi", "KubeletView", "TlsFiles", "log_options"]

NOT_STREAMING = (
    "the drills sandbox kubelet runs pods as plain processes and does not implement the "
    "streaming protocol (exec, attach, port-forward, run); use `kubectl logs` to read a pod's "
    "output, and reach a pod on its pod IP or through its Service"
)
_FOLLOW_CHECK_S = 15.0  # how often an idle follower checks whether its client left
_TRUE = ("true", "1")


class KubeletView(Protocol):
    """What the API needs from the kubelet."""

    def container_log(self, namespace: str, pod: str, container: str) -> ContainerLog:
        """The log of a container of a pod on this node; LookupError with the reason."""
        ...

    def resource_usage(self) -> tuple[Usage, list[ContainerUsage]]:
        """The node's usage and that of each running container (reads /proc: blocking)."""
        ...


@dataclass(frozen=True)
class TlsFiles:
    """The serving certificate and key, and the CA that client certificates must chain to."""

    cert: Path
    key: Path
    client_ca: Path

    def context(self) -> ssl.SSLContext:
        """A server context that requires a client certificate from the CA."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.client_ca))
        context.load_cert_chain(str(self.cert), str(self.key))
        context.verify_mode = ssl.CERT_REQUIRED
        return context


def _int(query: dict[str, str], name: str, minimum: int) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    value = int(raw)
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}")
    return value


def log_options(query: dict[str, str], now: datetime) -> LogOptions:
    """The `LogOptions` of a ``/containerLogs`` query; ValueError for a bad value."""
    tail = query.get("tail")
    if tail is not None and "tailLines" not in query and tail != "all":
        query = {**query, "tailLines": tail}
    since = None
    if (seconds := _int(query, "sinceSeconds", 1)) is not None:
        since = now - timedelta(seconds=seconds)
    elif query.get("sinceTime"):
        since = datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00"))
    return LogOptions(
        follow=query.get("follow", "").lower() in _TRUE,
        previous=query.get("previous", "").lower() in _TRUE,
        tail_lines=_int(query, "tailLines", 0),
        limit_bytes=_int(query, "limitBytes", 1),
        timestamps=query.get("timestamps", "").lower() in _TRUE,
        since=since,
    )


def _status(code: int, reason: str, message: str) -> web.Response:
    """An error answer as a metav1.Status, so kubectl prints its message."""
    return web.json_response(status(code, reason, message), status=code, dumps=json.dumps)


class KubeletApi:
    """The HTTPS server of one kubelet."""

    def __init__(self, view: KubeletView, tls: TlsFiles, *, wall: Callable[[], datetime]) -> None:
        """Serve `view` (`wall` gives the time for ``sinceSeconds`` and metric timestamps)."""
        self.view, self.tls = view, tls
        self._wall = wall
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        """The aiohttp application (routes only; TLS is added by `start`)."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._logs)
        app.router.add_get("/metrics/resource", self._metrics)
        for prefix in ("exec", "attach", "portForward", "run"):
            app.router.add_route("*", f"/{prefix}/{{rest:.*}}", self._not_streaming)
        return app

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port with TLS."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=self.tls.context())
        await site.start()

    async def close(self) -> None:
        """Stop listening and end open requests."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- handlers -------------------------------------------------------------------------------

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _not_streaming(self, _request: web.Request) -> web.Response:
        return _status(400, "BadRequest", NOT_STREAMING)

    async def _metrics(self, _request: web.Request) -> web.Response:
        node, containers = await asyncio.to_thread(self.view.resource_usage)
        now_ms = int(self._wall().timestamp() * 1000)
        text = resource_metrics_text(node, containers, now_ms)
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        try:
            options = log_options(dict(request.query), self._wall())
        except ValueError as exc:
            return _status(422, "Invalid", f"invalid log options: {exc}")
        try:
            log = self.view.container_log(info["namespace"], info["pod"], info["container"])
        except LookupError as exc:
            return _status(404, "NotFound", str(exc.args[0]) if exc.args else str(exc))
        if options.previous:
            return self._previous(log, options, info["container"], info["pod"])
        if options.follow and log.active:
            return await _follow(request, log, options)
        return web.Response(body=render(_read(log.path), options), content_type="text/plain")

    def _previous(
        self, log: ContainerLog, options: LogOptions, container: str, pod: str
    ) -> web.Response:
        if not log.previous_path.exists():
            message = f'previous terminated container "{container}" in pod "{pod}" not found'
            return _status(400, "BadRequest", message)
        body = render(_read(log.previous_path), options)
        return web.Response(body=body, content_type="text/plain")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


async def _follow(
    request: web.Request, log: ContainerLog, options: LogOptions
) -> web.StreamResponse:
    """Stream the current run's log until the run ends or the client goes."""
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    left = options.limit_bytes
    run = log.runs
    later = replace(options, tail_lines=None)  # the tail applies to what exists at the start
    with log.path.open("rb") as handle:
        chunk, current = handle.read(), options
        while left is None or left > 0:
            out = render(chunk, replace(current, limit_bytes=left))
            if out:
                await response.write(out)
                left = None if left is None else left - len(out)
            current = later
            if not (log.active and log.runs == run):
                break
            changed = log.changed
            chunk = handle.read()
            if not chunk:
                await _wait_or_check(changed, request)
                chunk = handle.read()
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response


async def _wait_or_check(changed: asyncio.Event, request: web.Request) -> None:
    try:
        await asyncio.wait_for(changed.wait(), timeout=_FOLLOW_CHECK_S)
    except TimeoutError:
        transport = request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the log follower left") from None
