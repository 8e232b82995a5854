"""One pod's status written to the API server the way the kubelet's status manager writes it.

`StatusSync` is told that something changed (`mark`); its writer task waits a moment so that a
burst of changes becomes one write, builds the status, and merge-patches ``pods/<name>/status``
only when it differs from what it wrote last, with the pod's UID in the patch so that a newer
pod of the same name is never written to. A failed write is tried again a second later.

The kubelet is the source of truth of a pod's status: when the watch shows a status that
someone else changed (the node lifecycle controller marking the pod NotReady), `observe` has it
written again, but only while `reconcile()` says so (the node's heartbeats run).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from drills.sandbox.node.apiclient import ApiError, Json

__all__ = ["KUBELET_CONDITIONS", "StatusApi", "StatusSync", "fingerprint"]

KUBELET_CONDITIONS = frozenset(
    {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"}
)
"""The pod conditions the kubelet owns; others (DisruptionTarget...) are kept as they are."""

_log = logging.getLogger(__name__)


class StatusApi(Protocol):
    """Where statuses go (`drills.sandbox.node.apiclient.NodeApi` fits)."""

    def patch_pod_status(self, namespace: str, name: str, patch: Json) -> Json:
        """Merge-patch ``pods/<name>/status``; ApiError when it fails."""
        ...


def fingerprint(status: Json | None) -> tuple[Any, ...]:
    """What must match between the API's status and ours: phase, conditions, IP, readiness."""
    status = status or {}
    conditions = sorted(
        (str(c.get("type")), str(c.get("status")))
        for c in status.get("conditions") or []
        if c.get("type") in KUBELET_CONDITIONS
    )
    containers = [
        (c.get("ready"), c.get("restartCount")) for c in status.get("containerStatuses") or []
    ]
    return (status.get("phase"), tuple(conditions), status.get("podIP"), tuple(containers))


class StatusSync:
    """Keeps one pod's status on the API server equal to what `build()` says."""

    def __init__(  # noqa: PLR0913 - keyword-only settings of one writer
        self,
        api: StatusApi,
        pod: tuple[str, str, str],
        build: Callable[[], dict[str, Any]],
        *,
        coalesce_s: float,
        reconcile: Callable[[], bool],
        retry_s: float = 1.0,
    ) -> None:
        """Write the status of `pod` = (namespace, name, uid); call `start()` in the loop."""
        self.api = api
        self.namespace, self.name, self.uid = pod
        self._build, self._coalesce_s, self._reconcile = build, coalesce_s, reconcile
        self._retry_s = retry_s
        self._dirty = asyncio.Event()
        self._lock = asyncio.Lock()
        self._written: dict[str, Any] | None = None
        self._written_version = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the writer task (it writes a first status at once)."""
        self._task = asyncio.get_running_loop().create_task(
            self._loop(), name=f"status {self.name}"
        )
        self.mark()

    def mark(self) -> None:
        """Something changed: write soon."""
        self._dirty.set()

    def rewrite(self) -> None:
        """Write again even if the status looks unchanged (others changed it)."""
        self._written = None
        self.mark()

    def observe(self, pod: Json) -> None:
        """The watch's version of the pod: rewrite ours if someone changed it meanwhile."""
        if self._written is None or not self._reconcile():
            return
        version = int(pod["metadata"].get("resourceVersion") or 0)
        if version <= self._written_version:
            return  # an older write of ours, seen late
        if fingerprint(pod.get("status")) != fingerprint(self._written):
            self.rewrite()

    async def flush(self) -> None:
        """Write now if the status changed (the final status of a terminating pod)."""
        await self._write()

    async def close(self) -> None:
        """Stop the writer task."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self._coalesce_s)
            self._dirty.clear()
            await self._write()

    async def _write(self) -> None:
        async with self._lock:
            status = self._build()
            if status == self._written:
                return
            patch = {"metadata": {"uid": self.uid}, "status": status}
            try:
                answer = await asyncio.to_thread(
                    self.api.patch_pod_status, self.namespace, self.name, patch
                )
            except ApiError as exc:
                if not exc.not_found:
                    _log.warning(
                        "pod %s/%s: status write failed: %s", self.namespace, self.name, exc
                    )
                    asyncio.get_running_loop().call_later(self._retry_s, self._dirty.set)
                return
            self._written = status
            self._written_version = int(answer.get("metadata", {}).get("resourceVersion") or 0)
