"""The service proxy with real HTTP backends: 503 without endpoints, round-robin, 502.

The last test runs against the upstream control plane: the proxy follows an EndpointSlice
written by hand whose endpoint is a pod IP inside a pod network namespace.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from kubernetes import client, config

from drills.core.clock import SystemClock
from drills.core.conditions import Observation
from drills.core.waiting import wait_until
from drills.sandbox.node.network import PodNetwork, exec_prefix
from drills.sandbox.node.proxy import Backend, ServiceProxy, slice_source
from tests.sandbox.aioloop import loop_thread
from tests.sandbox.cluster import Cluster, control_plane

pytestmark = pytest.mark.sandbox


async def backend(ip: str, name: str, *, die: bool = False) -> web.AppRunner:
    """A tiny backend on `ip`:8081 that names itself (or drops the connection when `die`)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if die:
            assert request.transport is not None
            request.transport.close()
            await asyncio.sleep(0.05)
        return web.Response(text=name)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, ip, 8081).start()
    return runner


async def fetch(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return answer.status, await answer.text()


def test_no_endpoints_answers_503() -> None:
    async def scenario() -> tuple[int, str]:
        proxy = ServiceProxy(list, name="default/shop")
        await proxy.start()
        try:
            return await fetch(proxy.url + "/healthz")
        finally:
            await proxy.stop()

    status, body = asyncio.run(scenario())
    assert status == 503
    assert "no ready endpoints for service default/shop" in body


def test_round_robin_over_ready_endpoints_only_and_502_for_a_dying_backend() -> None:
    async def scenario() -> tuple[list[str], dict[tuple[str, str], int], int]:
        runners = [
            await backend("127.0.9.1", "a"),
            await backend("127.0.9.2", "b"),
            await backend("127.0.9.3", "c-not-ready"),
            await backend("127.0.9.4", "d", die=True),
        ]
        ready = [
            Backend("default", "a", "127.0.9.1", 8081),
            Backend("default", "b", "127.0.9.2", 8081),
        ]
        proxy = ServiceProxy(lambda: ready)
        await proxy.start()
        try:
            bodies = [(await fetch(proxy.url + "/version"))[1] for _ in range(6)]
            ready[:] = [Backend("default", "d", "127.0.9.4", 8081)]
            dying_status, _ = await fetch(proxy.url + "/orders")
            return bodies, dict(proxy.requests), dying_status
        finally:
            await proxy.stop()
            for runner in runners:
                await runner.cleanup()

    bodies, counts, dying_status = asyncio.run(scenario())
    assert sorted(bodies) == ["a", "a", "a", "b", "b", "b"]
    assert bodies[0] != bodies[1]
    assert counts[("default", "a")] == 3
    assert counts[("default", "b")] == 3
    assert dying_status == 502


# ---------------------------------------------------------------- against a real control plane

BACKEND = """
import http.server, sys
name, ip = sys.argv[1], sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer((ip, 8080), Handler).serve_forever()
"""


@dataclass
class PodBackend:
    """An HTTP server inside a pod network namespace, answering its pod's name."""

    name: str
    ip: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with control_plane() as running:
        yield running


@pytest.fixture(scope="module")
def api_client(cluster: Cluster) -> Any:
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


@pytest.fixture
def pod_backend(cluster: Cluster) -> Iterator[PodBackend]:
    network = cast(PodNetwork, cluster.network)
    pod = network.add_pod("proxy-test-web-1")
    argv = [*exec_prefix(pod), sys.executable, "-c", BACKEND, "web-pod-1", pod.ip]
    process = subprocess.Popen(argv)
    try:
        wait_until(
            lambda: _listening(pod.ip, 8080),
            clock=SystemClock(),
            timeout_s=10,
            poll_s=0.05,
            description=f"the backend listening on {pod.ip}:8080",
        )
        yield PodBackend("web-pod-1", pod.ip, process)
    finally:
        process.terminate()
        process.wait(10)
        network.remove_pod(pod.key)


def _listening(ip: str, port: int) -> bool:
    try:
        socket.create_connection((ip, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _answer(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as failure:
        return failure.code, failure.read().decode()


def _slice_body(ip: str, **conditions: bool) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web-manual",
            "labels": {
                "kubernetes.io/service-name": "web",
                "endpointslice.kubernetes.io/managed-by": "drills-tests",
            },
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [ip],
                "conditions": conditions,
                "targetRef": {"kind": "Pod", "name": "web-pod-1", "namespace": "default"},
            }
        ],
    }


def _until_answer(url: str, status: int, body: str | None = None) -> None:
    def check() -> Observation:
        seen = _answer(url)
        ok = seen[0] == status and (body is None or seen[1] == body)
        return Observation(ok=ok, detail=f"{seen[0]} {seen[1][:60]!r}")

    wait_until(
        check, clock=SystemClock(), timeout_s=15, poll_s=0.05, description=f"{url} -> {status}"
    )


def test_the_proxy_follows_a_slice_written_by_hand(
    api_client: Any, pod_backend: PodBackend
) -> None:
    core, discovery = client.CoreV1Api(api_client), client.DiscoveryV1Api(api_client)
    service = {
        "metadata": {"name": "web"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }
    core.create_namespaced_service("default", service)
    merge = {"_content_type": "application/merge-patch+json"}
    source = slice_source(api_client, "default", "web")
    source.start()
    proxy = ServiceProxy(source, name="default/web")
    try:
        with loop_thread() as loop:
            url = loop.run(proxy.start()) + "/"
            assert source.wait_synced(10)
            assert _answer(url)[0] == 503
            discovery.create_namespaced_endpoint_slice(
                "default", _slice_body(pod_backend.ip, ready=True)
            )
            _until_answer(url, 200, "web-pod-1")
            not_ready = _slice_body(pod_backend.ip, ready=False, serving=False)
            discovery.patch_namespaced_endpoint_slice("web-manual", "default", not_ready, **merge)
            _until_answer(url, 503)
            draining = _slice_body(pod_backend.ip, ready=False, serving=True, terminating=True)
            discovery.patch_namespaced_endpoint_slice("web-manual", "default", draining, **merge)
            _until_answer(url, 200, "web-pod-1")
            discovery.delete_namespaced_endpoint_slice("web-manual", "default")
            _until_answer(url, 503)
            loop.run(proxy.stop())
    finally:
        source.stop()
        core.delete_namespaced_service("web", "default")
    assert proxy.requests[("default", "web-pod-1")] >= 2
    assert source.last_error is None
