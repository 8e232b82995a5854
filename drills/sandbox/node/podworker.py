"""One pod on a node, from admission to removal: what a kubelet's pod worker does.

`PodWorker` admits a pod bound to the node: it writes a first ``Pending``/``ContainerCreating``
status, gives the pod its network namespace and address (`PodNetworkPort.add_pod`), maps the
image to a command (``ErrImagePull`` for an image the sandbox lacks), resolves the environment
(``CreateContainerConfigError`` while a referenced Secret or key is missing, retried with
back-off as the kubelet retries), and starts a `ContainerRunner` inside the namespace. Every
change of the runner marks the status dirty, and `drills.sandbox.node.statussync.StatusSync`
writes it (only when changed, a burst of changes as one write, the pod's UID as precondition).

Termination, when the pod gets a deletionTimestamp: stop the container (SIGTERM, the deletion
grace period, SIGKILL), write the final status (``Succeeded``/``Failed``), remove the network
namespace, then delete the object with gracePeriodSeconds=0 and a UID precondition, as the
kubelet's status manager does. When the object is gone already (``--force --grace-period=0``)
the process is killed at once and nothing is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drills.sandbox.node.apiclient import ApiError, Json
from drills.sandbox.node.events import ObjectRef
from drills.sandbox.node.podenv import ContainerConfigError, PodFacts, resolve_env
from drills.sandbox.node.podspec import (
    MARKER_ENV,
    command_for_image,
    container_spec,
    first_container,
)
from drills.sandbox.node.podstatus import PodView, Transitions, pod_status, waiting_status
from drills.sandbox.node.runner import ContainerRunner
from drills.sandbox.node.services import NodeServices, PodInterface
from drills.sandbox.node.statussync import KUBELET_CONDITIONS, StatusSync

__all__ = ["PodWorker"]

_log = logging.getLogger(__name__)
_DELETE_ATTEMPTS = 5


def _stamp(services: NodeServices) -> str:
    return services.clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")


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
        self.sync = StatusSync(
            services.api,
            (self.namespace, self.name, self.uid),
            self.build_status,
            coalesce_s=services.settings.status_coalesce_s,
            reconcile=services.reconcile,
        )
        self._main: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._kill: asyncio.Task[None] | None = None

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
        self._main = asyncio.get_running_loop().create_task(self._run(), name=f"pod {self.key}")
        self.sync.start()

    # -- what the watch says ----------------------------------------------------------------------

    def observe(self, pod: Json) -> None:
        """A newer version of the pod: begin termination when it is being deleted."""
        self.pod = pod
        meta = pod["metadata"]
        if meta.get("deletionTimestamp") and self._closing is None:
            default = float(pod["spec"].get("terminationGracePeriodSeconds", 30))
            grace = float(meta.get("deletionGracePeriodSeconds", default))
            self._close(grace, delete_object=True)
        else:
            self.sync.observe(pod)

    def object_gone(self) -> None:
        """The pod object was removed: kill the process at once, write nothing."""
        if self._closing is None:
            self._close(0.0, delete_object=False)
        elif self.runner is not None and self._kill is None:  # cut a graceful stop short
            self._kill = asyncio.get_running_loop().create_task(self.runner.stop(0.0))

    def rewrite_status(self) -> None:
        """Write the status again even if it looks unchanged (it was changed by others)."""
        self.sync.rewrite()

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
        if self._main is not None:
            await asyncio.gather(self._main, return_exceptions=True)
        self.terminal = True
        if report:
            await self.sync.flush()
        await self.sync.close()
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
        self.sync.mark()

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
            if c.get("type") not in KUBELET_CONDITIONS
        ]
        status["conditions"] += foreign
        return status

    # -- events ---------------------------------------------------------------------------------

    def _event(self, kind: str, reason: str, message: str) -> None:
        pod_level = reason == "FailedCreatePodSandBox"  # the others concern the container
        path = "" if pod_level else f"spec.containers{{{self.container_name}}}"
        ref = ObjectRef("Pod", self.namespace, self.name, self.uid, field_path=path)
        self.services.events.record(ref, kind, reason, message)
