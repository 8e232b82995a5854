"""What every pod worker of a node shares: the pod network port, the API, events, settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from drills.core.clock import DrillClock
from drills.sandbox.node.apiclient import NodeApi
from drills.sandbox.node.events import EventRecorder
from drills.sandbox.node.podspec import ProbeScale
from drills.sandbox.node.runner import BackOff

__all__ = ["NodeServices", "PodInterface", "PodNetworkPort", "WorkerSettings"]


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
