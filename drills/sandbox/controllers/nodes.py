"""Node lifecycle: register the sandbox nodes, mark silent ones NotReady, evict their pods."""

from __future__ import annotations

from datetime import UTC, datetime

from drills.sandbox.apiserver.store import ObjectStore
from drills.sandbox.controllers.common import Obj, record_event

__all__ = ["NodeLifecycleController", "node_object"]

_COMPONENT = "node-controller"


def node_object(name: str, heartbeat: str) -> Obj:
    """A Ready node as the kubelet registers it (loopback address, 2 CPUs, 4 GiB)."""
    capacity = {"cpu": "2", "memory": "4Gi", "pods": "110"}
    return {
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
        },
        "spec": {},
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": [
                _ready("True", "KubeletReady", "kubelet is posting ready status", heartbeat)
            ],
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.35.0-drills-sandbox",
                "kubeProxyVersion": "v1.35.0-drills-sandbox",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "containerRuntimeVersion": "process://sandbox",
                "kernelVersion": "sandbox",
                "osImage": "drills sandbox",
                "bootID": name,
                "machineID": name,
                "systemUUID": name,
            },
        },
    }


def _ready(status: str, reason: str, message: str, now: str) -> Obj:
    return {
        "type": "Ready",
        "status": status,
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class NodeLifecycleController:
    """Marks silent nodes NotReady after `grace_s`; evicts their pods after `eviction_s`."""

    def __init__(self, store: ObjectStore, *, grace_s: float | None, eviction_s: float) -> None:
        """`grace_s=None` disables heartbeat checking (nodes stay as the kubelet reports them)."""
        self._store = store
        self._grace_s = grace_s
        self._eviction_s = eviction_s

    def register(self, count: int) -> list[str]:
        """Create nodes sandbox-node-1..count (kept when they exist); returns their names."""
        names = [f"sandbox-node-{i}" for i in range(1, count + 1)]
        for name in names:
            if self._store.try_get("nodes", "", name) is None:
                self._store.create("nodes", node_object(name, self._store.timestamp()))
        return names

    def sync(self) -> None:
        """Check every node's heartbeat and evict pods from long-NotReady nodes."""
        if self._grace_s is None:
            return
        now = self._store.wall()
        nodes, _ = self._store.list("nodes")
        for node in nodes:
            ready = next(
                (c for c in node.get("status", {}).get("conditions") or [] if c["type"] == "Ready"),
                None,
            )
            if ready is None:
                continue
            silent_s = (now - _parse(ready["lastHeartbeatTime"])).total_seconds()
            if ready["status"] == "True" and silent_s > self._grace_s:
                self._mark_unknown(node)
            elif ready["status"] != "True":
                since_s = (now - _parse(ready["lastTransitionTime"])).total_seconds()
                if since_s >= self._eviction_s:
                    self._evict(node)

    def _mark_unknown(self, node: Obj) -> None:
        status = node["status"]
        now = self._store.timestamp()
        others = [c for c in status["conditions"] if c["type"] != "Ready"]
        old = next(c for c in status["conditions"] if c["type"] == "Ready")
        unknown = _ready(
            "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.", now
        )
        unknown["lastHeartbeatTime"] = old["lastHeartbeatTime"]
        status["conditions"] = [*others, unknown]
        self._store.update_status("nodes", "", node["metadata"]["name"], status)
        record_event(
            self._store,
            node,
            "NodeNotReady",
            f"Node {node['metadata']['name']} status is now: NodeNotReady",
            component=_COMPONENT,
        )

    def _evict(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        pods, _ = self._store.list("pods", field_selector=f"spec.nodeName={name}")
        for pod in pods:
            meta = pod["metadata"]
            record_event(
                self._store,
                pod,
                "NodeNotReady",
                f"Evicting pod from not-ready node {name}",
                component=_COMPONENT,
                event_type="Warning",
            )
            self._store.delete("pods", meta["namespace"], meta["name"], grace_period_s=0)
