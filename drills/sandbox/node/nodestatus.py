"""The Node object, its status and its Lease, as a kubelet writes them (pure builders).

- `node_object`: what the kubelet registers: labels ``kubernetes.io/hostname``, ``/os``,
  ``/arch`` (and their ``beta.`` twins), the annotations a kubelet sets.
- `node_status`: capacity and allocatable, addresses (InternalIP = the node's address on the
  sandbox bridge, Hostname), ``daemonEndpoints.kubeletEndpoint.Port`` (where the API server
  and metrics-server reach the kubelet API), nodeInfo (kubeletVersion is the API server's own
  version, containerRuntimeVersion ``drills-process://1``) and the four conditions a kubelet
  posts: MemoryPressure, DiskPressure, PIDPressure (all False) and Ready (True).
- `lease_body`: the ``coordination.k8s.io/v1`` Lease in ``kube-node-lease`` that the node
  lifecycle controller reads; renewTime has microsecond precision (MicroTime).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drills.sandbox.node.apiclient import LEASE_NAMESPACE
from drills.sandbox.node.podstatus import Transitions

__all__ = [
    "CONTAINER_RUNTIME_VERSION",
    "DEFAULT_CAPACITY",
    "NodeIdentity",
    "lease_body",
    "micro_time",
    "node_object",
    "node_status",
]

CONTAINER_RUNTIME_VERSION = "drills-process://1"
DEFAULT_CAPACITY: Mapping[str, str] = {"cpu": "2", "memory": "4Gi", "pods": "110"}
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}
_CONDITIONS = (
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


def architecture() -> str:
    """This machine's architecture in Go's words (amd64, arm64...)."""
    machine = platform.machine()
    return _ARCH.get(machine, machine)


def _os_image() -> str:
    try:
        lines = Path("/etc/os-release").read_text().splitlines()
    except OSError:
        return "Linux"
    for line in lines:
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return "Linux"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class NodeIdentity:
    """Everything that names and describes one node."""

    name: str
    internal_ip: str
    kubelet_port: int
    kubelet_version: str
    capacity: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))


def micro_time(moment: datetime) -> str:
    """RFC 3339 with microseconds, the MicroTime format of a Lease's renewTime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_object(identity: NodeIdentity) -> dict[str, Any]:
    """The Node a kubelet registers (status follows in a separate status patch)."""
    arch = architecture()
    labels = {
        "kubernetes.io/hostname": identity.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch,
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": arch,
    }
    annotations = {
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    metadata = {"name": identity.name, "labels": labels, "annotations": annotations}
    return {"apiVersion": "v1", "kind": "Node", "metadata": metadata, "spec": {}}


def node_info(identity: NodeIdentity) -> dict[str, str]:
    """``status.nodeInfo``: versions of the kubelet and the runtime, and of this machine."""
    machine = Path("/etc/machine-id")
    machine_id = machine.read_text().strip() if machine.exists() else identity.name
    return {
        "machineID": machine_id,
        "systemUUID": identity.name,
        "bootID": _boot_id(),
        "kernelVersion": os.uname().release,
        "osImage": _os_image(),
        "containerRuntimeVersion": CONTAINER_RUNTIME_VERSION,
        "kubeletVersion": identity.kubelet_version,
        "operatingSystem": "linux",
        "architecture": architecture(),
    }


def node_status(identity: NodeIdentity, transitions: Transitions, now: str) -> dict[str, Any]:
    """The Node's whole ``status`` as the kubelet posts it at `now` (RFC 3339)."""
    conditions = [
        {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": transitions.stamp(kind, status, now),
        }
        for kind, status, reason, message in _CONDITIONS
    ]
    return {
        "capacity": dict(identity.capacity),
        "allocatable": dict(identity.capacity),
        "addresses": [
            {"type": "InternalIP", "address": identity.internal_ip},
            {"type": "Hostname", "address": identity.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": identity.kubelet_port}},
        "nodeInfo": node_info(identity),
        "conditions": conditions,
    }


def lease_body(node: str, node_uid: str, duration_s: int, renew: datetime) -> dict[str, Any]:
    """The node's Lease, owned by its Node (so it goes when the Node goes)."""
    owner = {"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": node, "namespace": LEASE_NAMESPACE, "ownerReferences": [owner]},
        "spec": {
            "holderIdentity": node,
            "leaseDurationSeconds": duration_s,
            "renewTime": micro_time(renew),
        },
    }
