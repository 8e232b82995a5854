"""The process kubelet of one sandbox node, talking to the real API server as a kubelet does.

`Kubelet(config, network)` uses the node's own kubeconfig (client certificate
``CN=system:node:<node>, O=system:nodes``, so the Node authoriser and NodeRestriction apply to
everything it does) through the official client, and:

- registers its Node and keeps it alive: Lease renewals in ``kube-node-lease`` and periodic
  status posts (`drills.sandbox.node.heartbeat`); `stop_heartbeats()` silences both, so the
  real node lifecycle controller marks the node ``Unknown`` and evicts its pods;
- lists and watches the pods with ``spec.nodeName=<node>`` (`drills.sandbox.node.podwatch`)
  and runs each one with a `drills.sandbox.node.podworker.PodWorker`: network namespace, env,
  process, probes, restarts, status, events, graceful deletion;
- serves the kubelet API over HTTPS on ``<InternalIP>:<kubelet_port>``
  (`drills.sandbox.node.kubelet_api`): logs, resource metrics, health.

Blocking client calls run in worker threads (`asyncio.to_thread`), the watch in its own
thread; everything else happens in the event loop that called `start()`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from drills.core.clock import DrillClock, SystemClock
from drills.sandbox.node.apiclient import Json, NodeApi
from drills.sandbox.node.events import EventRecorder
from drills.sandbox.node.heartbeat import NodeHeartbeat
from drills.sandbox.node.kubelet_api import KubeletApi, TlsFiles
from drills.sandbox.node.logs import ContainerLog
from drills.sandbox.node.nodestatus import DEFAULT_CAPACITY, NodeIdentity
from drills.sandbox.node.podspec import MARKER_ENV, SANDBOX_BACKOFF, ProbeScale
from drills.sandbox.node.podwatch import SYNC, PodWatcher
from drills.sandbox.node.podworker import PodWorker
from drills.sandbox.node.runner import BackOff
from drills.sandbox.node.services import NodeServices, PodInterface, PodNetworkPort, WorkerSettings
from drills.sandbox.node.usage import ContainerUsage, Usage, group_usage, machine_usage

__all__ = ["MARKER_ENV", "Kubelet", "KubeletConfig", "PodInterface", "PodNetworkPort"]

_log = logging.getLogger(__name__)
_TERMINAL = ("Succeeded", "Failed")


@dataclass(frozen=True)
class KubeletConfig:
    """Settings of one node's kubelet; durations are seconds, shortened for drills.

    `probe_time_scale` multiplies every probe's periodSeconds and initialDelaySeconds;
    `readiness_time_scale`, when set, replaces it for readiness probes. The Lease lasts
    `lease_duration_s` and is renewed every `lease_renew_period_s` (a kubelet's defaults are
    40 s and 10 s); the node status is posted every `node_status_update_period_s` (10 s).
    """

    node_name: str
    kubeconfig: Path
    repo_root: Path
    state_dir: Path
    kubelet_port: int
    serving_cert: Path
    serving_key: Path
    client_ca: Path
    probe_time_scale: float = 1.0
    readiness_time_scale: float | None = None
    backoff: BackOff = SANDBOX_BACKOFF
    lease_duration_s: int = 10
    lease_renew_period_s: float = 1.0
    node_status_update_period_s: float = 5.0
    status_coalesce_s: float = 0.05
    memory_poll_s: float = 0.2
    capacity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))

    @property
    def pods_dir(self) -> Path:
        """Pod logs and pid files."""
        return self.state_dir / "pods"


class Kubelet:
    """One node of the sandbox: its registration, heartbeats, pods and kubelet API."""

    def __init__(
        self,
        config: KubeletConfig,
        network: PodNetworkPort,
        *,
        clock: DrillClock | None = None,
        api: NodeApi | None = None,
    ) -> None:
        """Prepare; `start()` inside the running event loop does the work."""
        self.config = config
        self.network = network
        self.clock = clock or SystemClock()
        self._api = api
        self.workers: dict[str, PodWorker] = {}
        self.heartbeat: NodeHeartbeat | None = None
        self._events: EventRecorder | None = None
        self._watcher: PodWatcher | None = None
        self._server: KubeletApi | None = None

    @property
    def node_name(self) -> str:
        """The node's name."""
        return self.config.node_name

    @property
    def api(self) -> NodeApi:
        """The client with this node's identity (made by `start()`)."""
        if self._api is None:
            raise RuntimeError("the kubelet is not started; call start() first")
        return self._api

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Register the node, serve the kubelet API, start heartbeats and the pod watch."""
        if self._api is None:
            self._api = await asyncio.to_thread(NodeApi.from_kubeconfig, self.config.kubeconfig)
        self.config.pods_dir.mkdir(parents=True, exist_ok=True)
        await self._serve_api()
        version = await asyncio.to_thread(self.api.server_version)
        identity = NodeIdentity(
            self.node_name,
            self.network.gateway,
            self.config.kubelet_port,
            version,
            dict(self.config.capacity),
        )
        self.heartbeat = NodeHeartbeat(
            self.api,
            identity,
            wall=self.clock.wall,
            lease_duration_s=self.config.lease_duration_s,
            renew_period_s=self.config.lease_renew_period_s,
            status_period_s=self.config.node_status_update_period_s,
        )
        await self.heartbeat.register()
        self.heartbeat.start()
        self._events = EventRecorder(
            self.api, self.node_name, clock=self.clock, wall=self.clock.wall
        )
        self._events.start()
        loop = asyncio.get_running_loop()
        self._watcher = PodWatcher(self.api, self.node_name, self._deliver, loop)
        self._watcher.start()

    async def stop(self) -> None:
        """Stop the watch, every pod process, the heartbeats and the API; nothing left running."""
        if self._watcher is not None:
            await asyncio.to_thread(self._watcher.stop)
            self._watcher = None
        workers = list(self.workers.values())
        await asyncio.gather(*(worker.shutdown() for worker in workers), return_exceptions=True)
        if self.heartbeat is not None:
            await self.heartbeat.close()
        if self._events is not None:
            await self._events.close()
        if self._server is not None:
            await self._server.close()
            self._server = None
        if self._api is not None:
            self._api.close()

    @property
    def heartbeats_enabled(self) -> bool:
        """False between `stop_heartbeats()` and `resume_heartbeats()`."""
        return self.heartbeat is not None and self.heartbeat.beating

    def stop_heartbeats(self) -> None:
        """Stop renewing the Lease and posting node status (the node goes silent)."""
        if self.heartbeat is not None:
            self.heartbeat.pause()

    def resume_heartbeats(self) -> None:
        """Renew and post again, and write every pod's status again."""
        if self.heartbeat is not None:
            self.heartbeat.resume()
        for worker in self.workers.values():
            worker.rewrite_status()

    async def _serve_api(self) -> None:
        tls = TlsFiles(self.config.serving_cert, self.config.serving_key, self.config.client_ca)
        self._server = KubeletApi(self, tls, wall=self.clock.wall)
        await self._server.start(self.network.gateway, self.config.kubelet_port)

    # -- pods -----------------------------------------------------------------------------------

    def _services(self) -> NodeServices:
        assert self._events is not None  # started before the watch
        settings = WorkerSettings(
            node_name=self.node_name,
            host_ip=self.network.gateway,
            repo_root=self.config.repo_root,
            pods_dir=self.config.pods_dir,
            backoff=self.config.backoff,
            scale=ProbeScale(self.config.probe_time_scale, self.config.readiness_time_scale),
            memory_poll_s=self.config.memory_poll_s,
            status_coalesce_s=self.config.status_coalesce_s,
        )
        return NodeServices(
            api=self.api,
            network=self.network,
            events=self._events,
            clock=self.clock,
            settings=settings,
            reconcile=lambda: self.heartbeats_enabled,
        )

    def _deliver(self, kind: str, pods: list[Json]) -> None:
        if kind == SYNC:
            present = {str(pod["metadata"]["uid"]) for pod in pods}
            for uid, worker in list(self.workers.items()):
                if uid not in present:
                    worker.object_gone()
        for pod in pods:
            self._one(kind, pod)

    def _one(self, kind: str, pod: Json) -> None:
        uid = str(pod["metadata"]["uid"])
        worker = self.workers.get(uid)
        if kind == "DELETED":
            if worker is not None:
                worker.object_gone()
        elif worker is not None:
            worker.observe(pod)
        elif (pod.get("status") or {}).get("phase") not in _TERMINAL:
            self._admit(uid, pod)

    def _admit(self, uid: str, pod: Json) -> None:
        worker = PodWorker(pod, self._services(), self._finished)
        self.workers[uid] = worker
        worker.start()
        if pod["metadata"].get("deletionTimestamp"):
            worker.observe(pod)  # deleted before it ran here: tear down at once

    def _finished(self, worker: PodWorker) -> None:
        if self.workers.get(worker.uid) is worker:
            del self.workers[worker.uid]

    # -- what the kubelet API reads ---------------------------------------------------------------

    def _worker(self, namespace: str, pod: str) -> PodWorker | None:
        found = [w for w in self.workers.values() if (w.namespace, w.name) == (namespace, pod)]
        return found[-1] if found else None

    def container_log(self, namespace: str, pod: str, container: str) -> ContainerLog:
        """The log of a container here; LookupError saying why there is none."""
        worker = self._worker(namespace, pod)
        if worker is None:
            raise LookupError(f'pod "{pod}" does not exist on node {self.node_name}')
        if container != worker.container_name:
            raise LookupError(f'container "{container}" not found in pod "{pod}"')
        if worker.runner is None:
            raise LookupError(f'container "{container}" in pod "{pod}" is waiting to start')
        return worker.runner.log

    def resource_usage(self) -> tuple[Usage, list[ContainerUsage]]:
        """The node's usage and each running container's (blocking: reads /proc)."""
        running: list[tuple[PodWorker, int, float]] = []
        for worker in list(self.workers.values()):
            runner = worker.runner
            pid = runner.pid if runner is not None else None
            if runner is not None and pid is not None and runner.started_wall is not None:
                running.append((worker, pid, runner.started_wall.timestamp()))
        found = group_usage(pid for _, pid, _ in running)
        containers = [
            ContainerUsage(w.namespace, w.name, w.container_name, found[pid], started)
            for w, pid, started in running
        ]
        return machine_usage(), containers
