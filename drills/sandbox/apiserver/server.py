"""`SandboxApi`: the store, the HTTP app and the controllers wired together in one event loop.

Embedding (the sandbox daemon's control code)::

    api = SandboxApi(ApiConfig(port=0))
    await api.start()                 # inside the running loop; binds 127.0.0.1
    api.url, api.store, api.metrics   # http://127.0.0.1:PORT, ObjectStore, PodMetrics
    api.write_kubeconfig(path)
    ...
    api.check_errors()                # raises if a controller failed
    await api.stop()

For tests there is `ThreadedSandboxApi` (its own loop in a thread) and
``python -m drills.sandbox.apiserver --port 0 --ready-file X``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from drills.core.clock import DrillClock, SystemClock
from drills.sandbox.apiserver.app import build_app
from drills.sandbox.apiserver.kubeconfig import write_kubeconfig
from drills.sandbox.apiserver.store import ObjectStore
from drills.sandbox.controllers.deployment import DeploymentController
from drills.sandbox.controllers.endpoints import EndpointsController
from drills.sandbox.controllers.hpa import HpaController, HpaSettings
from drills.sandbox.controllers.nodes import NodeLifecycleController
from drills.sandbox.controllers.replicaset import ReplicaSetController
from drills.sandbox.controllers.scheduler import Scheduler
from drills.sandbox.metrics import PodMetrics

__all__ = ["ApiConfig", "SandboxApi", "ThreadedSandboxApi"]

T = TypeVar("T")


@dataclass(frozen=True)
class ApiConfig:
    """Settings of the API server and controllers (sandbox defaults: drills finish in seconds).

    `node_grace_s` None disables heartbeat checking (for runs without a kubelet).
    """

    host: str = "127.0.0.1"
    port: int = 0
    node_count: int = 3
    namespaces: tuple[str, ...] = ("default", "kube-system")
    controller_interval_s: float = 0.05  # level-triggered pass; changes also wake the loop
    node_grace_s: float | None = 4.0  # real: 40 s (node-monitor-grace-period)
    pod_eviction_s: float = 2.0  # real: 300 s (default toleration of not-ready nodes)
    hpa_interval_s: float = 1.0  # real: 15 s
    watch_history: int = 5000  # changes a watch may replay; older resourceVersions get 410
    hpa: HpaSettings = field(default_factory=lambda: HpaSettings(default_scale_down_window_s=10.0))


class SandboxApi:
    """The API server plus controllers, started and stopped inside a running event loop."""

    def __init__(self, config: ApiConfig | None = None, *, clock: DrillClock | None = None) -> None:
        """Build the store and controllers (nothing runs until `start`)."""
        self.config = config or ApiConfig()
        self.clock = clock or SystemClock()
        self.store = ObjectStore(clock=self.clock, history_limit=self.config.watch_history)
        self.metrics = PodMetrics()
        self.nodes = NodeLifecycleController(
            self.store, grace_s=self.config.node_grace_s, eviction_s=self.config.pod_eviction_s
        )
        self.hpa = HpaController(self.store, self.metrics, self.clock, self.config.hpa)
        self._fast: list[Callable[[], None]] = [
            DeploymentController(self.store).sync,
            ReplicaSetController(self.store).sync,
            Scheduler(self.store).sync,
            EndpointsController(self.store).sync,
            self.nodes.sync,
        ]
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The server's base URL (after `start`)."""
        return f"http://{self.config.host}:{self.port}"

    def bootstrap(self) -> None:
        """Create the namespaces and nodes (idempotent; `start` calls it)."""
        for name in self.config.namespaces:
            if self.store.try_get("namespaces", "", name) is None:
                self.store.create(
                    "namespaces", {"metadata": {"name": name}, "status": {"phase": "Active"}}
                )
        self.nodes.register(self.config.node_count)

    def reconcile(self) -> None:
        """Run every fast controller once (tests call it to step the cluster deterministically)."""
        for sync in self._fast:
            sync()

    async def start(self) -> None:
        """Bind the HTTP server and start the controller loops."""
        self.bootstrap()
        self._wake = asyncio.Event()
        self._unsubscribe = self.store.subscribe(lambda *_: self._wake.set())
        self._runner = web.AppRunner(
            build_app(self.store, self.metrics), access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self.config.port
        self._tasks = [
            asyncio.create_task(
                self._loop(self.reconcile, self.config.controller_interval_s, wake=True)
            ),
            asyncio.create_task(self._loop(self.hpa.sync, self.config.hpa_interval_s, wake=False)),
        ]

    async def _loop(self, step: Callable[[], None], interval_s: float, *, wake: bool) -> None:
        while True:
            if wake:
                self._wake.clear()
            try:
                step()
            except Exception as exc:  # kept for check_errors(); the loop goes on
                self.store.record_error(exc)
            if wake:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval_s * 10)
                await asyncio.sleep(interval_s)
            else:
                await asyncio.sleep(interval_s)

    def check_errors(self) -> None:
        """Raise the first error a controller or store subscriber hit."""
        self.store.check_errors()

    def write_kubeconfig(self, path: Path, *, namespace: str = "default") -> Path:
        """Write a kubeconfig for this server."""
        return write_kubeconfig(path, self.url, namespace=namespace)

    async def stop(self) -> None:
        """Stop the controllers, end the watches and close the server."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._unsubscribe:
            self._unsubscribe()
        self.store.close_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class ThreadedSandboxApi:
    """A `SandboxApi` on its own event loop in a daemon thread (tests, benchmarks)."""

    def __init__(self, config: ApiConfig | None = None) -> None:
        """Prepare; call `start()` to run."""
        self._config = config
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="sandbox-api", daemon=True
        )
        self.api: SandboxApi | None = None

    def start(self) -> SandboxApi:
        """Start the thread and the server; returns the running `SandboxApi`."""
        self._thread.start()

        async def make() -> SandboxApi:
            api = SandboxApi(self._config)
            await api.start()
            return api

        self.api = self.call(make(), timeout_s=10.0)
        return self.api

    def call(self, coro: Coroutine[Any, Any, T], *, timeout_s: float = 10.0) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout_s)

    def run(self, function: Callable[[], T], *, timeout_s: float = 10.0) -> T:
        """Run a plain function on the server's loop (store access is loop-only)."""

        async def wrapper() -> T:
            return function()

        return self.call(wrapper(), timeout_s=timeout_s)

    def stop(self) -> None:
        """Stop the server and the loop, join the thread."""
        if self.api is not None:
            self.call(self.api.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10.0)
        self._loop.close()
