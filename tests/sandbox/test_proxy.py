"""The service proxy with real HTTP backends: 503 without endpoints, round-robin, 502."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from drills.sandbox.node.proxy import Backend, ServiceProxy

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
