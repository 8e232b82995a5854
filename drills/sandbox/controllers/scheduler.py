"""Scheduler: bind pending pods to the Ready, schedulable node that runs the fewest pods."""

from __future__ import annotations

from drills.sandbox.apiserver.store import ObjectStore
from drills.sandbox.controllers.common import Obj, is_active, record_event

__all__ = ["Scheduler", "node_is_ready"]

_COMPONENT = "default-scheduler"


def node_is_ready(node: Obj) -> bool:
    """True when the node's Ready condition is True."""
    conditions = node.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _condition(status: str, reason: str = "", message: str = "", now: str = "") -> Obj:
    cond: Obj = {
        "type": "PodScheduled",
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": now,
    }
    if reason:
        cond.update(reason=reason, message=message)
    return cond


class Scheduler:
    """Assigns spec.nodeName to pods that have none."""

    def __init__(self, store: ObjectStore) -> None:
        """Work on `store`."""
        self._store = store

    def sync(self) -> None:
        """Schedule every unscheduled, active pod."""
        pods, _ = self._store.list("pods")
        pending = [p for p in pods if not p.get("spec", {}).get("nodeName") and is_active(p)]
        if not pending:
            return
        nodes, _ = self._store.list("nodes")
        usable = [
            n for n in nodes if node_is_ready(n) and not n.get("spec", {}).get("unschedulable")
        ]
        load = {n["metadata"]["name"]: 0 for n in usable}
        for pod in pods:
            node = pod.get("spec", {}).get("nodeName")
            if node in load and is_active(pod):
                load[node] += 1
        for pod in pending:
            if not load:
                self._unschedulable(pod, len(nodes))
                continue
            node = min(sorted(load), key=lambda n: load[n])
            load[node] += 1
            self._bind(pod, node)

    def _bind(self, pod: Obj, node: str) -> None:
        meta = pod["metadata"]
        self._store.patch("pods", meta["namespace"], meta["name"], {"spec": {"nodeName": node}})
        status = pod.get("status", {})
        others = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        status["conditions"] = [_condition("True", now=self._store.timestamp()), *others]
        self._store.update_status("pods", meta["namespace"], meta["name"], status)
        message = f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}"
        record_event(self._store, pod, "Scheduled", message, component=_COMPONENT)

    def _unschedulable(self, pod: Obj, node_count: int) -> None:
        status = pod.get("status", {})
        conditions = status.get("conditions") or []
        if any(c.get("type") == "PodScheduled" and c.get("status") == "False" for c in conditions):
            return
        message = (
            f"0/{node_count} nodes are available: "
            f"{node_count} node(s) were unschedulable or not ready."
        )
        status["conditions"] = [
            _condition("False", "Unschedulable", message, self._store.timestamp())
        ]
        meta = pod["metadata"]
        self._store.update_status("pods", meta["namespace"], meta["name"], status)
        record_event(
            self._store,
            pod,
            "FailedScheduling",
            message,
            component=_COMPONENT,
            event_type="Warning",
        )
