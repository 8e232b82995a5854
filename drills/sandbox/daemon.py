"""The sandbox daemon: one process, one event loop, the whole local cluster.

``python -m drills.sandbox --root <repo-root>`` runs, in this order:

1. PostgreSQL (`drills.sandbox.postgres.LocalPostgres`, WAL archiving on) and ``moto_server``
   (`drills.sandbox.aws.MotoServer`), child processes of this daemon;
2. the API server with its controllers (`drills.sandbox.apiserver.server.SandboxApi`), which
   creates the namespaces and the nodes ``sandbox-node-1..3``;
3. one process kubelet per node (`drills.sandbox.kubelet.Kubelet`), pods as real processes;
4. the service proxy (`drills.sandbox.proxy.ServiceProxy`) for Service ``default/shop``;
5. the shop's Deployment, Service and HPA from ``fixtures/shop/k8s/*.yaml``.

It then writes, under ``<root>/.drills/sandbox/``: ``kubeconfig``, ``endpoints.json``
(``kube_api``, ``service_url``, ``database_dsn``, ``admin_dsn``, ``postgres_root``,
``namespace``, ``aws_endpoint``, ``s3_endpoint``, ``kubeconfig``, ``pid``) and ``daemon.pid``.
Pod logs and pid files live in ``pods/``. Every second it folds the kubelets' CPU/RSS samples
and the proxy's request counts into the metrics registry the HPA reads.

SIGTERM or SIGINT stops everything it started, in reverse order (pods get SIGTERM, their grace
period, then SIGKILL), removes ``daemon.pid`` and ``endpoints.json`` and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drills.sandbox.apiserver.server import ApiConfig, SandboxApi
from drills.sandbox.aws import MotoServer
from drills.sandbox.kubelet import Kubelet, KubeletConfig
from drills.sandbox.pods import AddressBlock, PodIPs
from drills.sandbox.postgres import LocalPostgres
from drills.sandbox.proxy import ServiceProxy, store_endpoints

__all__ = ["NAMESPACE", "SandboxDaemon", "SandboxPaths", "main"]

NAMESPACE = "default"
_MANIFESTS = ("deployment.yaml", "service.yaml", "hpa.yaml")
_KINDS = {
    "Deployment": "deployments",
    "Service": "services",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers",
}


@dataclass(frozen=True)
class SandboxPaths:
    """Where the sandbox keeps its state under a repository root."""

    root: Path

    @property
    def state(self) -> Path:
        """``<root>/.drills/sandbox``."""
        return self.root / ".drills" / "sandbox"

    @property
    def endpoints(self) -> Path:
        """The endpoints file profiles read."""
        return self.state / "endpoints.json"

    @property
    def kubeconfig(self) -> Path:
        """The kubeconfig for kubectl and the official client."""
        return self.state / "kubeconfig"

    @property
    def pid_file(self) -> Path:
        """The daemon's pid."""
        return self.state / "daemon.pid"

    @property
    def pods(self) -> Path:
        """Pod logs and pid files."""
        return self.state / "pods"

    @property
    def log(self) -> Path:
        """The daemon's own log."""
        return self.state / "daemon.log"


@dataclass
class SandboxDaemon:
    """Starts, serves and stops the whole sandbox inside one event loop."""

    paths: SandboxPaths
    node_count: int = 3
    probe_time_scale: float = 0.25
    readiness_time_scale: float = 0.05
    api: SandboxApi | None = None
    postgres: LocalPostgres | None = None
    moto: MotoServer | None = None
    proxy: ServiceProxy | None = None
    kubelets: list[Kubelet] = field(default_factory=list)
    addresses: AddressBlock | None = None
    _usage: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    _seen: Counter[tuple[str, str]] = field(default_factory=Counter)

    async def run(self) -> None:
        """Start everything, serve until SIGTERM/SIGINT, stop everything."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            await self.start()
            metrics = loop.create_task(self._fold_metrics())
            await stop.wait()
            metrics.cancel()
        finally:
            await self.stop()

    async def start(self) -> dict[str, Any]:
        """Start the children, the cluster and the shop; returns what endpoints.json holds."""
        self.paths.pods.mkdir(parents=True, exist_ok=True)
        self.paths.pid_file.write_text(f"{os.getpid()}\n")
        self.postgres = LocalPostgres(self.paths.state / "postgres", max_connections=60)
        self.moto = MotoServer(log_path=self.paths.state / "moto.log")
        # Both must finish (or fail) before going on, so stop() never misses a late child.
        started = await asyncio.gather(
            asyncio.to_thread(self.postgres.start),
            asyncio.to_thread(self.moto.start),
            return_exceptions=True,
        )
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        dsn, aws = str(started[0]), str(started[1])
        self.api = SandboxApi(ApiConfig(node_count=self.node_count))
        await self.api.start()
        self.api.store.log_reader = self._read_log
        await self._start_kubelets(dsn)
        self.proxy = ServiceProxy(store_endpoints(self.api.store, NAMESPACE, "shop"))
        service_url = await self.proxy.start()
        self._apply_manifests()
        self.api.write_kubeconfig(self.paths.kubeconfig, namespace=NAMESPACE)
        endpoints = {
            "kube_api": self.api.url,
            "service_url": service_url,
            "database_dsn": dsn,
            "admin_dsn": self.postgres.admin_dsn(),
            "postgres_root": str(self.postgres.root),
            "namespace": NAMESPACE,
            "aws_endpoint": aws,
            "s3_endpoint": aws,
            "kubeconfig": str(self.paths.kubeconfig),
            "pid": os.getpid(),
        }
        temporary = self.paths.endpoints.with_suffix(".tmp")
        temporary.write_text(json.dumps(endpoints, indent=2) + "\n")
        temporary.replace(self.paths.endpoints)
        return endpoints

    async def _start_kubelets(self, dsn: str) -> None:
        assert self.api is not None  # start() built it
        self.addresses = AddressBlock.claim()
        block = self.addresses.third_octet
        ips = PodIPs(first_third_octet=block, last_third_octet=block)
        for index in range(1, self.node_count + 1):
            config = KubeletConfig(
                node_name=f"sandbox-node-{index}",
                repo_root=self.paths.root,
                state_dir=self.paths.state,
                probe_time_scale=self.probe_time_scale,
                readiness_time_scale=self.readiness_time_scale,
                default_env={"DATABASE_URL": dsn},
            )
            kubelet = Kubelet(self.api.store, config, ips=ips, usage_sink=self._record_usage)
            await kubelet.start()
            self.kubelets.append(kubelet)

    def _apply_manifests(self) -> None:
        assert self.api is not None  # start() built it
        folder = self.paths.root / "fixtures" / "shop" / "k8s"
        for filename in _MANIFESTS:
            for document in yaml.safe_load_all((folder / filename).read_text()):
                if not document:
                    continue
                resource = _KINDS[document["kind"]]
                name = document["metadata"]["name"]
                if self.api.store.try_get(resource, NAMESPACE, name) is None:
                    self.api.store.create(resource, document, NAMESPACE)

    def _read_log(self, namespace: str, name: str, _container: str | None = None) -> str:
        path = self.paths.pods / f"{namespace}_{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _record_usage(self, namespace: str, name: str, millicores: float, rss: int) -> None:
        self._usage[(namespace, name)] = (millicores, rss)

    async def _fold_metrics(self) -> None:
        period_s = 1.0
        while True:
            await asyncio.sleep(period_s)
            self.fold_metrics_once(period_s)

    def fold_metrics_once(self, period_s: float) -> None:
        """Merge CPU/RSS samples and proxy request rates into the metrics registry."""
        if self.api is None or self.proxy is None:
            return
        counts = Counter(self.proxy.requests)
        for key in set(self._usage) | set(counts):
            millicores, rss = self._usage.get(key, (0.0, 0))
            rate = (counts[key] - self._seen[key]) / period_s
            self.api.metrics.record(
                key[0],
                key[1],
                cpu_millicores=millicores,
                memory_bytes=rss,
                requests_per_second=rate,
            )
        self._seen = counts
        live = {(run.namespace, run.name) for k in self.kubelets for run in k.runs.values()}
        for key in set(self._usage) - live:
            self._usage.pop(key, None)
            self.api.metrics.forget(*key)

    async def stop(self) -> None:
        """Stop what was started, newest first; never raises for an already-stopped part."""
        if self.proxy is not None:
            await self.proxy.stop()
        await asyncio.gather(*(k.stop() for k in self.kubelets), return_exceptions=True)
        if self.api is not None:
            await self.api.stop()
        if self.moto is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.moto.stop)
        if self.postgres is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.postgres.stop)
        if self.addresses is not None:
            self.addresses.release()
        self.paths.endpoints.unlink(missing_ok=True)
        self.paths.pid_file.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """Run the daemon in the foreground until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m drills.sandbox", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    parser.add_argument("--nodes", type=int, default=3, help="number of sandbox nodes")
    args = parser.parse_args(argv)
    daemon = SandboxDaemon(SandboxPaths(args.root.resolve()), node_count=args.nodes)
    asyncio.run(daemon.run())
    return 0
