"""The sandbox daemon: upstream Kubernetes plus what a node provides, in one supervising process.

``python -m drills.sandbox --root <repo-root>`` runs, in this order:

1. the pinned upstream binaries (`drills.sandbox.build`, built once into the user's cache);
2. the pod network (`drills.sandbox.node.network.PodNetwork`): a bridge whose address (the
   *gateway*) is the only address the sandbox adds outside its pod network namespaces;
3. PostgreSQL (WAL archiving on, listening on loopback and the gateway, so pods reach it),
   ``moto_server`` and Redis (`drills.sandbox.redis`, on the gateway: the shop's task broker);
4. the control plane (`drills.sandbox.controlplane.ControlPlane`): etcd, kube-apiserver,
   kube-controller-manager, kube-scheduler;
5. one process kubelet per node (`drills.sandbox.node.kubelet.Kubelet`), each with its own
   identity, Lease and kubelet API; pods are processes in their own network namespaces;
6. the shop's database and broker Secrets and ``fixtures/shop/k8s/`` applied with kubectl
   (validation on); then the second demo service's: Secret ``notes-database`` (role and database
   ``notes`` of the same PostgreSQL, with a CONNECTION LIMIT of their own) and
   ``fixtures/notes/k8s/`` (when the project root has that folder), served by a second service
   proxy (nothing waits for its pods);
7. metrics-server (``metrics.k8s.io``) and the service proxy with its ``custom.metrics.k8s.io``
   API (the shop HPA's request-rate metric), registered as aggregated APIs; then, since that API
   is served, ``fixtures/shop/k8s/custom-metrics/`` (the HPA scaling on the request rate too);
8. a control socket (``control.sock``) through which tests and drills stop or resume a node's
   heartbeats, the way a node dies.

It then writes, under ``<root>/.drills/sandbox/``: ``kubeconfig`` (context ``drills-sandbox``),
``endpoints.json`` (``kube_api``, ``service_url``, ``database_dsn``, ``admin_dsn``,
``service_urls`` and ``service_dsns`` (per demo service: ``shop``, ``notes``),
``postgres_root``, ``namespace``, ``aws_endpoint``, ``s3_endpoint``, ``broker_url``,
``kubeconfig``, ``pid``, ``kubernetes_version``, ``timings``: every flag that differs from
upstream) and ``daemon.pid``.
``audit.log`` is the API server's audit log.

SIGTERM or SIGINT stops everything it started, newest first, removes the network, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from drills.core.errors import DrillError
from drills.sandbox import addons
from drills.sandbox.aws import RECORDING_NAME, MotoServer
from drills.sandbox.build import Binaries, binaries
from drills.sandbox.controlplane import ControlPlane, free_port
from drills.sandbox.node.custom_metrics import CustomMetricsServer, ServingTls, kube_pod_lister
from drills.sandbox.node.kubelet import Kubelet, KubeletConfig
from drills.sandbox.node.network import PodNetwork
from drills.sandbox.node.proxy import ServiceProxy, SliceSource, connect, slice_source
from drills.sandbox.postgres import LocalPostgres
from drills.sandbox.redis import LocalRedis

__all__ = ["NAMESPACE", "SandboxDaemon", "SandboxPaths", "main"]

NAMESPACE = "default"
SERVICE = "shop"
BROKER_SECRET = "shop-broker"  # key url: the Redis URL the shop-worker Deployment reads
CUSTOM_METRICS_SERVICE = "custom-metrics-apiserver"  # prometheus-adapter's usual name
SHOP_MANIFESTS = Path("fixtures", "shop", "k8s")  # the shop with a CPU-only HPA
CUSTOM_METRICS_MANIFESTS = SHOP_MANIFESTS / "custom-metrics"  # its HPA with the request rate
NOTES = "notes"  # the second demo service: Deployment, Service, role and database all so named
NOTES_SECRET = "notes-database"  # key url: the notes Deployment's DSN
NOTES_MANIFESTS = Path("fixtures", "notes", "k8s")
# Its role's own cap: 2 pods x POOL_SIZE 5, one surge pod's pool during a rollout, the pool
# drill's headroom of 5 ([pool] headroom), and room for what that drill leaves held after the
# runbook's rule (state = 'idle') has ended the idle half of its leak: the idle-in-transaction
# half, about 10 sessions at this cap. At 20 the headroom depended on how many connections the
# pools happened to hold. The shop's `app` role keeps the rest of the server (max_connections 60).
NOTES_CONNECTION_LIMIT = 30


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
        """The admin kubeconfig for kubectl and the official client."""
        return self.state / "kubeconfig"

    @property
    def pid_file(self) -> Path:
        """The daemon's pid."""
        return self.state / "daemon.pid"

    @property
    def pods(self) -> Path:
        """Pod logs."""
        return self.state / "pods"

    @property
    def log(self) -> Path:
        """The daemon's own log."""
        return self.state / "daemon.log"

    @property
    def control_socket(self) -> Path:
        """The daemon's control socket (node heartbeats)."""
        return self.state / "control.sock"

    @property
    def audit_log(self) -> Path:
        """The API server's audit log."""
        return self.state / "audit.log"


@dataclass
class SandboxDaemon:
    """Starts, serves and stops the whole sandbox."""

    paths: SandboxPaths
    node_count: int = 3
    probe_time_scale: float = 0.25
    readiness_time_scale: float = 0.05
    network: PodNetwork | None = None
    postgres: LocalPostgres | None = None
    moto: MotoServer | None = None
    redis: LocalRedis | None = None
    plane: ControlPlane | None = None
    proxy: ServiceProxy | None = None
    slices: SliceSource | None = None
    notes_proxy: ServiceProxy | None = None
    notes_slices: SliceSource | None = None
    custom_metrics: CustomMetricsServer | None = None
    kubelets: list[Kubelet] = field(default_factory=list)
    _control: web.AppRunner | None = None

    async def run(self) -> None:
        """Start everything, serve until SIGTERM/SIGINT, stop everything."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            await self.start()
            await stop.wait()
        finally:
            await self.stop()

    async def start(self) -> dict[str, Any]:
        """Start every part; returns what endpoints.json holds."""
        self.paths.pods.mkdir(parents=True, exist_ok=True)
        self.paths.pid_file.write_text(f"{os.getpid()}\n")
        built = await asyncio.to_thread(binaries, progress=False)
        self.network = await asyncio.to_thread(PodNetwork.create, self.paths.state)
        self.plane = ControlPlane(self.paths.state, built, gateway=self.network.gateway)
        # The database and the control plane start side by side; both finish (or fail) before
        # going on, so stop() never misses a late child.
        data, plane = await asyncio.gather(
            self._start_data(self.network.gateway),
            asyncio.to_thread(self.plane.start, namespace=NAMESPACE),
            return_exceptions=True,
        )
        for outcome in (data, plane):
            if isinstance(outcome, BaseException):
                raise outcome
        assert not isinstance(data, BaseException)  # raised just above
        dsn, aws, broker = data
        await asyncio.to_thread(self.plane.start_metrics_server, wait=False)
        await self._start_kubelets()
        await asyncio.to_thread(self._deploy, built, dsn, broker)
        notes_dsn = await asyncio.to_thread(self._deploy_notes, built)
        service_url = await self._start_traffic(built)
        await self._start_control()
        endpoints = self._endpoints(built, dsn, aws, service_url, broker)
        endpoints["service_urls"] = {SERVICE: service_url}
        endpoints["service_dsns"] = {SERVICE: dsn}
        endpoints["pod_service_urls"] = {SERVICE: endpoints["pod_service_url"]}
        if notes_dsn is not None:
            endpoints["service_urls"][NOTES] = await self._start_notes_proxy()
            endpoints["service_dsns"][NOTES] = notes_dsn
            endpoints["pod_service_urls"][NOTES] = self._pod_url(self.notes_proxy)
        return self._write_endpoints(endpoints)

    async def _start_data(self, gateway: str) -> tuple[str, str, str]:
        root = self.paths.state / "postgres"
        root.mkdir(parents=True, exist_ok=True)
        (root / "listen-host").write_text(f"{gateway}\n")
        self.postgres = LocalPostgres(root, max_connections=60)
        self.moto = MotoServer(
            log_path=self.paths.state / "moto.log",
            recording_path=self.paths.state / RECORDING_NAME,
            host=gateway,  # pods' backup Jobs upload to it; the host reaches it there too
            backing_root=root,  # RDS restores become local instances (the RDS profile)
        )
        # the shop's task broker: pods reach it on the gateway, the harness too
        self.redis = LocalRedis(self.paths.state / "redis", host=gateway)
        # All must finish (or fail) before going on, so stop() never misses a late child.
        started = await asyncio.gather(
            asyncio.to_thread(self.postgres.start),
            asyncio.to_thread(self.moto.start),
            asyncio.to_thread(self.redis.start),
            return_exceptions=True,
        )
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        return str(started[0]), str(started[1]), str(started[2])

    async def _start_kubelets(self) -> None:
        assert self.plane is not None  # start() built it
        assert self.network is not None
        gateway = self.network.gateway
        for index in range(1, self.node_count + 1):
            name = f"sandbox-node-{index}"
            serving = self.plane.serving_cert(f"kubelet-{name}", ips=[gateway], dns=[name])
            config = KubeletConfig(
                node_name=name,
                kubeconfig=self.plane.node_kubeconfig(name),
                repo_root=self.paths.root,
                state_dir=self.paths.state,
                kubelet_port=free_port(gateway),
                serving_cert=serving.cert,
                serving_key=serving.key,
                client_ca=self.plane.pki_dir / "ca.crt",
                probe_time_scale=self.probe_time_scale,
                readiness_time_scale=self.readiness_time_scale,
            )
            kubelet = Kubelet(config, self.network)
            self.kubelets.append(kubelet)
            await kubelet.start()

    def _deploy(self, built: Binaries, dsn: str, broker: str) -> None:
        assert self.plane is not None  # start() built it
        kubeconfig = self.plane.admin_kubeconfig
        secrets = [
            addons.database_secret(dsn, namespace=NAMESPACE),
            addons.database_secret(broker, namespace=NAMESPACE, name=BROKER_SECRET),
        ]
        addons.apply(built.kubectl, kubeconfig, secrets)
        addons.apply_files(built.kubectl, kubeconfig, self.paths.root / SHOP_MANIFESTS, NAMESPACE)

    def _deploy_notes(self, built: Binaries) -> str | None:
        """The notes service's role, database, Secret and manifests; its DSN.

        None (nothing deployed) when the project root has no fixtures/notes/k8s/: a project, or a
        test's throw-away root, that copied only the shop gets the sandbox it had before.
        """
        assert self.plane is not None  # start() built it
        assert self.postgres is not None
        manifests = self.paths.root / NOTES_MANIFESTS
        if not manifests.is_dir():
            return None
        kubeconfig = self.plane.admin_kubeconfig
        notes_dsn = self.postgres.ensure_service_database(
            NOTES, NOTES, connection_limit=NOTES_CONNECTION_LIMIT
        )
        secret = addons.database_secret(
            notes_dsn, namespace=NAMESPACE, name=NOTES_SECRET, app=NOTES
        )
        addons.apply(built.kubectl, kubeconfig, [secret])
        addons.apply_files(built.kubectl, kubeconfig, manifests, NAMESPACE)
        return notes_dsn

    def _pod_url(self, proxy: ServiceProxy | None) -> str | None:
        """Where the sandbox's pods reach a service: its proxy on the pod gateway."""
        return proxy.url_on(self.network.gateway) if proxy and self.network else None

    async def _start_notes_proxy(self) -> str:
        """The notes Service's own proxy, on loopback and the pod gateway like the shop's."""
        assert self.plane is not None  # start() built it
        assert self.network is not None
        identity = ("drills-service-proxy", ("system:masters",))
        api_client = connect(self.plane.kubeconfig_for("service-proxy", *identity))
        self.notes_slices = slice_source(api_client, NAMESPACE, NOTES)
        self.notes_slices.start()
        self.notes_proxy = ServiceProxy(
            self.notes_slices, name=f"{NAMESPACE}/{NOTES}", also_on=(self.network.gateway,)
        )
        return await self.notes_proxy.start()

    async def _start_traffic(self, built: Binaries) -> str:
        assert self.plane is not None  # start() built it
        assert self.network is not None
        gateway, ca = self.network.gateway, self.plane.pki_dir / "ca.crt"
        # metrics-server is registered without waiting for its first scrape (one metric
        # resolution, 10 s): the HPA and `kubectl top` see figures once it has them, as on a
        # cluster whose metrics-server just started.
        identity = ("drills-service-proxy", ("system:masters",))
        api_client = connect(self.plane.kubeconfig_for("service-proxy", *identity))
        self.slices = slice_source(api_client, NAMESPACE, SERVICE)
        self.slices.start()
        self.proxy = ServiceProxy(self.slices, name=f"{NAMESPACE}/{SERVICE}", also_on=(gateway,))
        service_url = await self.proxy.start()
        dns = addons.serving_dns_names(CUSTOM_METRICS_SERVICE)
        serving = self.plane.serving_cert("custom-metrics", ips=[gateway], dns=dns)
        self.custom_metrics = CustomMetricsServer(
            self.proxy,
            kube_pod_lister(api_client),
            ServingTls(serving.cert, serving.key, client_ca=ca),
            host=gateway,
        )
        await self.custom_metrics.start()
        apis = [
            *addons.aggregated_api(
                group="metrics.k8s.io",
                version="v1beta1",
                service="metrics-server",
                address=gateway,
                port=self.plane.metrics_port,
                ca=ca,
            ),
            *addons.aggregated_api(
                group="custom.metrics.k8s.io",
                version="v1beta2",
                service=CUSTOM_METRICS_SERVICE,
                address=gateway,
                port=self.custom_metrics.port,
                ca=ca,
            ),
        ]
        await asyncio.to_thread(addons.apply, built.kubectl, self.plane.admin_kubeconfig, apis)
        # The request-rate HPA only where custom.metrics.k8s.io is served, as on a cluster.
        await asyncio.to_thread(
            addons.apply_files,
            built.kubectl,
            self.plane.admin_kubeconfig,
            self.paths.root / CUSTOM_METRICS_MANIFESTS,
            NAMESPACE,
        )
        return service_url

    def _endpoints(
        self, built: Binaries, dsn: str, aws: str, service_url: str, broker: str
    ) -> dict[str, Any]:
        """What endpoints.json holds for the shop and the platform (the keys profiles read)."""
        assert self.plane is not None  # start() built it
        assert self.postgres is not None
        return {
            "kube_api": self.plane.url,
            "service_url": service_url,
            "database_dsn": dsn,
            "admin_dsn": self.postgres.admin_dsn(),
            "postgres_root": str(self.postgres.root),
            "namespace": NAMESPACE,
            "aws_endpoint": aws,
            "s3_endpoint": aws,
            "broker_url": broker,
            "pod_gateway": self.network.gateway if self.network else None,
            "pod_service_url": self._pod_url(self.proxy),
            "kubeconfig": str(self.paths.kubeconfig),
            "audit_log": str(self.paths.audit_log),
            "control_socket": str(self.paths.control_socket),
            "kubernetes_version": built.version,
            "timings": self.plane.timings(),
            "pid": os.getpid(),
        }

    def _write_endpoints(self, endpoints: dict[str, Any]) -> dict[str, Any]:
        """Write endpoints.json at once (a reader never sees half of it)."""
        temporary = self.paths.endpoints.with_suffix(".tmp")
        temporary.write_text(json.dumps(endpoints, indent=2) + "\n")
        temporary.replace(self.paths.endpoints)
        return endpoints

    # ------------------------------------------------------------------ control socket
    async def _start_control(self) -> None:
        app = web.Application()
        app.router.add_get("/nodes", self._nodes)
        app.router.add_post("/nodes/{node}/heartbeats", self._heartbeats)
        self._control = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._control.setup()
        self.paths.control_socket.unlink(missing_ok=True)
        await web.UnixSite(self._control, str(self.paths.control_socket)).start()

    def _kubelet(self, node: str) -> Kubelet:
        for kubelet in self.kubelets:
            if kubelet.node_name == node:
                return kubelet
        names = ", ".join(k.node_name for k in self.kubelets)
        raise web.HTTPNotFound(text=f"no node {node!r} in this sandbox (nodes: {names})\n")

    async def _nodes(self, _request: web.Request) -> web.Response:
        listing = {k.node_name: {"heartbeats": _beating(k)} for k in self.kubelets}
        return web.json_response(listing)

    async def _heartbeats(self, request: web.Request) -> web.Response:
        kubelet = self._kubelet(request.match_info["node"])
        body = await request.json()
        if body.get("enabled"):
            kubelet.resume_heartbeats()
        else:
            kubelet.stop_heartbeats()
        return web.json_response({"node": kubelet.node_name, "heartbeats": body["enabled"]})

    # ------------------------------------------------------------------ stop
    async def stop(self) -> None:
        """Stop what was started, newest first; never raises for an already-stopped part."""
        await self._stop_serving()
        await asyncio.gather(*(k.stop() for k in self.kubelets), return_exceptions=True)
        if self.plane is not None:
            await asyncio.to_thread(self.plane.stop)
        for stopper in (self.redis, self.moto, self.postgres):
            if stopper is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(stopper.stop)
        if self.network is not None:
            await asyncio.to_thread(self.network.destroy)
        self.paths.endpoints.unlink(missing_ok=True)
        self.paths.pid_file.unlink(missing_ok=True)

    async def _stop_serving(self) -> None:
        """The control socket, the custom-metrics API, the service proxy and its slice watch."""
        if self._control is not None:
            await self._control.cleanup()
            self.paths.control_socket.unlink(missing_ok=True)
        if self.custom_metrics is not None:
            await self.custom_metrics.stop()
        for proxy in (self.notes_proxy, self.proxy):
            if proxy is not None:
                await proxy.stop()
        for slices in (self.notes_slices, self.slices):
            if slices is not None:
                await asyncio.to_thread(slices.stop)


def main(argv: list[str] | None = None) -> int:
    """Run the daemon in the foreground until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m drills.sandbox", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    parser.add_argument("--nodes", type=int, default=3, help="number of sandbox nodes")
    args = parser.parse_args(argv)
    daemon = SandboxDaemon(SandboxPaths(args.root.resolve()), node_count=args.nodes)
    try:
        asyncio.run(daemon.run())
    except DrillError as exc:  # expected: its message says what to fix; the log keeps it short
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


def _beating(kubelet: Kubelet) -> bool:
    return kubelet.heartbeat is not None and kubelet.heartbeat.beating
