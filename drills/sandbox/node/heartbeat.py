"""A node's registration and heartbeats: its Node object, status posts and Lease renewals.

Registration creates the Node (an existing one is kept: a restarted kubelet re-registers) and
posts its status. Then two periodic loops run, as in a kubelet: the Lease in
``kube-node-lease`` is renewed every ``renew_period_s`` (the node lifecycle controller's
primary heartbeat), and the node status is posted every ``status_period_s`` after reading the
current Node, so that a Ready condition another component changed (the node lifecycle
controller's ``Unknown``) gets a fresh lastTransitionTime when the kubelet sets it back. A Node
deleted behind the kubelet's back is registered again.

`pause()` stops both (the node goes silent, as a dead or partitioned node does: the real node
lifecycle controller then marks it ``Unknown`` and taints it); `resume()` restarts them and
posts at once. Failures are logged and retried at the next period; they never stop the loops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from drills.sandbox.node.apiclient import ApiError, NodeApi
from drills.sandbox.node.nodestatus import NodeIdentity, lease_body, node_object
from drills.sandbox.node.nodestatus import node_status as build_node_status
from drills.sandbox.node.podstatus import Transitions

__all__ = ["NodeHeartbeat"]

_log = logging.getLogger(__name__)


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class NodeHeartbeat:
    """Registers one Node and keeps its Lease and status fresh until `close()`."""

    def __init__(  # noqa: PLR0913 - keyword-only periods of one heartbeat
        self,
        api: NodeApi,
        identity: NodeIdentity,
        *,
        wall: Callable[[], datetime],
        lease_duration_s: int,
        renew_period_s: float,
        status_period_s: float,
    ) -> None:
        """Prepare; call `register()` then `start()` inside the event loop."""
        self.api = api
        self.identity = identity
        self._wall = wall
        self.lease_duration_s = lease_duration_s
        self.renew_period_s = renew_period_s
        self.status_period_s = status_period_s
        self.node_uid = ""
        self._beating = asyncio.Event()
        self._beating.set()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def beating(self) -> bool:
        """False between `pause()` and `resume()`."""
        return self._beating.is_set()

    async def register(self) -> None:
        """Create the Node (or keep the existing one), post its status, renew the Lease."""
        await asyncio.to_thread(self._ensure_node)
        await asyncio.to_thread(self.post_status)
        await asyncio.to_thread(self.renew_lease)

    def start(self) -> None:
        """Start the two periodic loops."""
        loop = asyncio.get_running_loop()
        name = self.identity.name
        self._tasks = [
            loop.create_task(
                self._every(self.renew_period_s, self.renew_lease), name=f"lease {name}"
            ),
            loop.create_task(
                self._every(self.status_period_s, self.post_status), name=f"status {name}"
            ),
        ]

    def pause(self) -> None:
        """Stop renewing the Lease and posting status."""
        self._beating.clear()

    def resume(self) -> None:
        """Renew and post again, starting now."""
        self._beating.set()

    async def close(self) -> None:
        """Stop the loops."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # -- one beat -------------------------------------------------------------------------------

    def _ensure_node(self) -> None:
        node = self.api.get_node(self.identity.name)
        if node is None:
            try:
                node = self.api.create_node(node_object(self.identity))
            except ApiError as exc:
                if not exc.already_exists_or_conflict:
                    raise
                node = self.api.get_node(self.identity.name) or {}
        self.node_uid = str(node.get("metadata", {}).get("uid", ""))

    def post_status(self) -> None:
        """Read the Node and post its status (registering it again if it was deleted)."""
        node = self.api.get_node(self.identity.name)
        if node is None:
            self._ensure_node()
            node = {}
        transitions = Transitions((node.get("status") or {}).get("conditions"))
        status = build_node_status(self.identity, transitions, _rfc3339(self._wall()))
        self.api.patch_node_status(self.identity.name, {"status": status})

    def renew_lease(self) -> None:
        """Renew the Lease (create it the first time, owned by the Node)."""
        name = self.identity.name
        body = lease_body(name, self.node_uid, self.lease_duration_s, self._wall())
        try:
            self.api.patch_lease(name, {"spec": body["spec"]})
        except ApiError as exc:
            if not exc.not_found:
                raise
            self.api.create_lease(body)

    async def _every(self, period_s: float, beat: Callable[[], None]) -> None:
        while True:
            await self._beating.wait()  # paused: blocks here; resume() beats at once
            try:
                await asyncio.to_thread(beat)
            except ApiError as exc:
                _log.warning("node %s: %s failed: %s", self.identity.name, beat.__name__, exc)
            await asyncio.sleep(period_s)
