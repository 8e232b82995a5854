"""A real upstream control plane on a real pod network, for the node agent's integration tests.

`control_plane()` claims a pod network block (its bridge address is where the API server
listens), starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler from the
pinned build, and yields a `Cluster`. On exit everything stops and the network is removed.
It skips (with the reason) where the build or the pod network cannot be had.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from drills.sandbox.controlplane import ControlPlane

__all__ = ["Cluster", "control_plane"]


@dataclass(frozen=True)
class Cluster:
    """A running control plane: its state folder, admin kubeconfig and the pod network."""

    state: Path
    plane: ControlPlane
    network: object

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (context ``drills-sandbox``)."""
        return self.plane.admin_kubeconfig

    def node_kubeconfig(self, node: str) -> Path:
        """A kubeconfig with the identity of node `node`."""
        return self.plane.node_kubeconfig(node)


@dataclass(frozen=True)
class _Folder:
    """Binaries named as upstream names them, in one folder (``DRILLS_K8S_BIN``)."""

    folder: Path

    def __getattr__(self, name: str) -> Path:
        return self.folder / name.replace("_", "-")


def _binaries() -> object:
    if os.environ.get("DRILLS_K8S_BIN"):
        return _Folder(Path(os.environ["DRILLS_K8S_BIN"]))
    from drills.sandbox import build

    return build.binaries(progress=False)


@contextmanager
def control_plane(*, metrics_server: bool = False) -> Iterator[Cluster]:
    """A running upstream control plane in a temporary state folder."""
    if os.geteuid() != 0:
        pytest.skip("the sandbox's pod network needs root (network namespaces)")
    from drills.sandbox.node.network import PodNetwork

    binaries = _binaries()
    state = Path(tempfile.mkdtemp(prefix="drills-cluster-", dir="/tmp"))
    network = PodNetwork.create(state)
    plane = ControlPlane(state, binaries, gateway=network.gateway)  # type: ignore[arg-type]
    try:
        plane.start()
        if metrics_server:
            plane.start_metrics_server()
        yield Cluster(state, plane, network)
    finally:
        plane.stop()
        network.destroy()
        shutil.rmtree(state, ignore_errors=True)
