"""One pod on a node, from admission to removal: what a kubelet's pod worker does.

`PodWorker` admits a pod bound to the node: it writes a first ``Pending``/``ContainerCreating``
status, gives the pod its network namespace and address (`PodNetworkPort.add_pod`), maps the
image to a command (``ErrImagePull`` for an image the sandbox lacks), resolves the environment
(``CreateContainerConfigError`` while a referenced Secret or key is missing, retried with
back-off as the kubelet retries), and starts a `ContainerRunner` inside the namespace. Every
change of the runner marks the status dirty; a writer task builds the status after a short
pause (so a burst of changes becomes one write), compares it with what it wrote last, and
merge-patches ``pods/<name>/status`` only when it differs, with the pod's UID as precondition.

Termination, when the pod gets a deletionTimestamp: stop the container (SIGTERM, the deletion
grace period, SIGKILL), write the final status (``Succeeded``/``Failed``), remove the network
namespace, then delete the object with gracePeriodSeconds=0 and a UID precondition, as the
kubelet's status manager does. When the object is gone already (``--force --grace-period=0``)
the process is killed at once and nothing is written.

While the node's heartbeats run, a status that someone else changed (the node lifecycle
controller marking pods NotReady) is written again, since the kubelet is the source of truth of
pod status; while they are paused, the worker does not fight back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from drills.core.clock import DrillClock
from drills.sandbox.node.apiclient import ApiError, Json, NodeApi
from drills.sandbox.node.events import EventRecorder, ObjectRef
from drills.sandbox.node.podenv import ContainerConfigError, PodFacts, resolve_env
from drills.sandbox.node.podspec import (
    MARKER_ENV,
    ProbeScale,
    command_for_image,
    container_spec,
    first_container,
)
from drills.sandbox.node.podstatus import PodView, Transitions, pod_status, waiting_status
from drills.sandbox.node.runner import BackOff, ContainerRunner

__all__ = ["NodeServices", "PodInterface", "PodNetworkPort", "PodWorker", "WorkerSettings"]

_log = logging.getLogger(__name__)
_KUBELET_CONDITIONS = {
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
}
_DELETE_ATTEMPTS = 5
_WRITE_RETRY_S = 1.0


class PodInterface(Protocol):
    """A pod's place on the network."""

    @property
    def netns(self) -> str:
        """Name of its network namespace."""
        ...

    @property
    def ip(self) -> str:
        """Its pod IP."""
        ...


class PodNetworkPort(Protocol):
    """The pod network as the kubelet uses it (`drills.sandbox.node.network.PodNetwork`)."""

    @property
    def gateway(self) -> str:
        """The host's address on the pod network: the node's InternalIP."""
        ...

    def add_pod(self, key: str) -> PodInterface:
        """Give pod `key` a namespace and an address (blocking)."""
        ...

    def remove_pod(self, key: str) -> None:
        """Remove pod `key`'s namespace (blocking); a no-op when unknown."""
        ...

    def exec_prefix(self, pod: Any) -> list[str]:
        """The argv prefix that runs a command inside `pod`'s namespace."""
        ...


@dataclass(frozen=True)
class WorkerSettings:
    """The node-wide settings every pod worker uses."""

    node_name: str
    host_ip: str
    repo_root: Path
    pods_dir: Path
    backoff: BackOff
    scale: ProbeScale
    memory_poll_s: float = 0.2
    status_coalesce_s: float = 0.05


@dataclass(frozen=True)
class NodeServices:
    """What pod workers share: the API, the network, events, the clock and the settings."""

    api: NodeApi
    network: PodNetworkPort
    events: EventRecorder
    clock: DrillClock
    settings: WorkerSettings
    reconcile: Callable[[], bool]
    """True while the node's heartbeats run (only then are foreign status changes undone)."""


def _stamp(services: NodeServices) -> str:
    return services.clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")


def _fingerprint(status: Json | None) -> tuple[Any, ...]:
    status = status or {}
    conditions = sorted(
        (str(c.get("type")), str(c.get("status")))
        for c in status.get("conditions") or []
        if c.get("type") in _KUBELET_CONDITIONS
    )
    containers = [
        (c.get("ready"), c.get("restartCount")) for c in status.get("containerStatuses") or []
    ]
    return (status.get("phase"), tuple(conditions), status.get("podIP"), tuple(containers))


class PodWorker:
    """Runs one pod and keeps its status; `on_finished` is called once it is torn down."""

    def __init__(
        self, pod: Json, services: NodeServices, on_finished: Callable[[PodWorker], None]
    ) -> None:
        """Prepare; call `start()` inside the event loop."""
        meta = pod["metadata"]
        self.pod = pod
        self.uid, self.name = str(meta["uid"]), str(meta["name"])
        self.namespace = str(meta.get("namespace") or "default")
        self.container = first_container(pod)
        self.services, self._on_finished = services, on_finished
        self.runner: ContainerRunner | None = None
        self.iface: PodInterface | None = None
        self.pod_ip: str | None = None
        self.terminal = False
        self._waiting = waiting_status(self.container, "ContainerCreating")
        self._transitions = Transitions((pod.get("status") or {}).get("conditions"))
        self._start_time = _stamp(services)
        self._stop = asyncio.Event()
        self._dirty = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._written: dict[str, Any] | None = None
        self._written_version = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: asyncio.Task[None] | None = None

    @property
    def key(self) -> str:
        """The pod's key on the pod network."""
        return f"{self.namespace}/{self.name}/{self.uid}"

    @property
    def container_name(self) -> str:
        """The container the sandbox runs."""
        return str(self.container["name"])

    def start(self) -> None:
        """Admit the pod: start its main task and its status writer."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._run(), name=f"pod {self.key}"),
            loop.create_task(self._write_loop(), name=f"status {self.key}"),
        ]
        self._mark()

    # -- what the watch says ----------------------------------------------------------------------

    def observe(self, pod: Json) -> None:
        """A newer version of the pod: begin termination when it is being deleted."""
        self.pod = pod
        meta = pod["metadata"]
        if meta.get("deletionTimestamp") and self._closing is None:
            default = float(pod["spec"].get("terminationGracePeriodSeconds", 30))
            grace = float(meta.get("deletionGracePeriodSeconds", default))
            self._close(grace, delete_object=True)
        elif self._drifted(pod):
            self.rewrite_status()

    def object_gone(self) -> None:
        """The pod object was removed: kill the process at once, write nothing."""
        if self._closing is None:
            self._close(0.0, delete_object=False)
        elif self.runner is not None:
            asyncio.get_running_loop().create_task(self.runner.stop(0.0))

    def rewrite_status(self) -> None:
        """Write the status again even if it looks unchanged (it was changed by others)."""
        self._written = None
        self._mark()

    async def shutdown(self) -> None:
        """Stop the pod for the node's own shutdown: the object is left as it is."""
        if self._closing is None:
            self._close(None, delete_object=False, report=False)
        assert self._closing is not None  # set by _close
        await asyncio.shield(self._closing)

    # -- admission ------------------------------------------------------------------------------

    async def _run(self) -> None:
        if not await self._attach_network() or self._stop.is_set():
            return
        argv = self._argv()
        env = None if argv is None else await self._resolve_env()
        if argv is None or env is None or self._stop.is_set():
            return
        runner = self._launch(argv, env)
        await runner.wait()
        if not self._stop.is_set():  # its restart policy ended it
            self.terminal = True
            self._mark()
            await self._detach_network()

    async def _attach_network(self) -> bool:
        failures = 0
        while not self._stop.is_set():
            try:
                self.iface = await asyncio.to_thread(self.services.network.add_pod, self.key)
            except Exception as exc:  # the network's own errors, whatever they are
                failures += 1
                self._event(
                    "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc}"
                )
                await self._pause(self.services.settings.backoff.delay_s(failures))
                continue
            self.pod_ip = self.iface.ip
            self._mark()
            return True
        return False

    def _argv(self) -> tuple[str, ...] | None:
        image = str(self.container.get("image", ""))
        try:
            return command_for_image(image, self.services.settings.repo_root)
        except LookupError as exc:
            self._event("Normal", "Pulling", f'Pulling image "{image}"')
            self._event("Warning", "Failed", f'Failed to pull image "{image}": {exc}')
            self._event("Warning", "Failed", "Error: ErrImagePull")
            self._waiting = waiting_status(self.container, "ErrImagePull", str(exc))
            self._mark()
            return None

    async def _resolve_env(self) -> dict[str, str] | None:
        assert self.iface is not None  # attached before
        settings = self.services.settings
        facts = PodFacts(self.iface.ip, settings.host_ip, settings.node_name)
        failures = 0
        while not self._stop.is_set():
            try:
                env = await asyncio.to_thread(
                    resolve_env, self.pod, self.container, facts, self.services.api
                )
            except (ContainerConfigError, ApiError) as exc:
                failures += 1
                self._event("Warning", "Failed", f"Error: {exc}")
                self._waiting = waiting_status(
                    self.container, "CreateContainerConfigError", str(exc)
                )
                self._mark()
                await self._pause(settings.backoff.delay_s(failures))
                continue
            return env | {MARKER_ENV: f"{self.namespace}/{self.name}"}
        return None

    def _launch(self, argv: tuple[str, ...], env: dict[str, str]) -> ContainerRunner:
        assert self.iface is not None  # attached before
        settings = self.services.settings
        spec = container_spec(self.pod, argv, env, cwd=settings.repo_root, scale=settings.scale)
        self.runner = ContainerRunner(
            spec,
            pod_ip=self.iface.ip,
            log_path=settings.pods_dir / f"{self.namespace}_{self.name}_{spec.name}.log",
            exec_prefix=self.services.network.exec_prefix(self.iface),
            backoff=settings.backoff,
            memory_poll_s=settings.memory_poll_s,
            clock=self.services.clock,
            on_change=self._runner_changed,
            on_event=self._event,
        )
        self.runner.start()
        return self.runner

    async def _pause(self, delay_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=delay_s)

    # -- termination ----------------------------------------------------------------------------

    def _close(self, grace_s: float | None, *, delete_object: bool, report: bool = True) -> None:
        task = self._terminate(
            grace_s, delete_object=delete_object, report=report and delete_object
        )
        self._closing = asyncio.get_running_loop().create_task(task, name=f"stop {self.key}")

    async def _terminate(self, grace_s: float | None, *, delete_object: bool, report: bool) -> None:
        self._stop.set()
        if self.runner is not None:
            await self.runner.stop(grace_s)
        await asyncio.gather(self._tasks[0], return_exceptions=True)
        self.terminal = True
        if report:
            await self._write_once()
        self._tasks[1].cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._detach_network()
        self._pid_file.unlink(missing_ok=True)
        if delete_object:
            await self._delete_object()
        self._on_finished(self)

    async def _detach_network(self) -> None:
        if self.iface is not None:
            try:
                await asyncio.to_thread(self.services.network.remove_pod, self.key)
            except Exception as exc:  # the network's own errors; nothing else depends on it
                _log.warning("pod %s: could not remove its network namespace: %s", self.key, exc)
            self.iface = None

    async def _delete_object(self) -> None:
        api = self.services.api
        for attempt in range(1, _DELETE_ATTEMPTS + 1):
            try:
                await asyncio.to_thread(api.delete_pod, self.namespace, self.name, self.uid)
                return
            except ApiError as exc:
                if exc.not_found or exc.already_exists_or_conflict:
                    return  # gone, or a new pod of the same name: not ours to delete
                _log.warning("pod %s: delete failed (%s), attempt %d", self.key, exc, attempt)
                await asyncio.sleep(self.services.settings.backoff.delay_s(attempt))

    # -- status ---------------------------------------------------------------------------------

    @property
    def _pid_file(self) -> Path:
        return self.services.settings.pods_dir / f"{self.namespace}_{self.name}.pid"

    def _runner_changed(self) -> None:
        pid = self.runner.pid if self.runner is not None else None
        if pid is not None:
            self._pid_file.parent.mkdir(parents=True, exist_ok=True)
            self._pid_file.write_text(f"{pid}\n")
        self._mark()

    def _mark(self) -> None:
        self._dirty.set()

    def _drifted(self, pod: Json) -> bool:
        if self._written is None or not self.services.reconcile():
            return False
        version = int(pod["metadata"].get("resourceVersion") or 0)
        if version <= self._written_version:
            return False  # an older write of ours, seen late
        return _fingerprint(pod.get("status")) != _fingerprint(self._written)

    def build_status(self) -> dict[str, Any]:
        """The status this node would write now."""
        settings = self.services.settings
        container = self.runner.snapshot() if self.runner is not None else self._waiting
        view = PodView(
            pod=self.pod,
            container=container,
            host_ip=settings.host_ip,
            pod_ip=self.pod_ip,
            start_time=self._start_time,
            sandbox_ready=self.iface is not None,
            terminal=self.terminal,
        )
        status = pod_status(view, self._transitions, _stamp(self.services))
        foreign = [
            c
            for c in (self.pod.get("status") or {}).get("conditions") or []
            if c.get("type") not in _KUBELET_CONDITIONS
        ]
        status["conditions"] += foreign
        return status

    async def _write_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self.services.settings.status_coalesce_s)
            self._dirty.clear()
            await self._write_once()

    async def _write_once(self) -> None:
        async with self._write_lock:
            status = self.build_status()
            if status == self._written:
                return
            patch = {"metadata": {"uid": self.uid}, "status": status}
            api = self.services.api
            try:
                answer = await asyncio.to_thread(
                    api.patch_pod_status, self.namespace, self.name, patch
                )
            except ApiError as exc:
                if not exc.not_found:
                    _log.warning("pod %s: status write failed: %s", self.key, exc)
                    asyncio.get_running_loop().call_later(_WRITE_RETRY_S, self._dirty.set)
                return
            self._written = status
            self._written_version = int(answer.get("metadata", {}).get("resourceVersion") or 0)

    # -- events ---------------------------------------------------------------------------------

    def _event(self, kind: str, reason: str, message: str) -> None:
        path = f"spec.containers{{{self.container_name}}}"
        if reason in ("FailedCreatePodSandBox",):
            path = ""
        ref = ObjectRef("Pod", self.namespace, self.name, self.uid, field_path=path)
        self.services.events.record(ref, kind, reason, message)
