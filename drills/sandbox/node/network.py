"""The sandbox's pod network, laid out as the CNI bridge plugin with host-local IPAM would.

A sandbox claims a block N and owns the bridge `drills<N>`, which holds the gateway address
10.244.N.1/24. Each pod gets its own network namespace `drills-<N>-<i>`, joined to the bridge by
a veth pair (`drv<N>p<i>` on the host, `eth0` in the pod), and one address 10.244.N.x/24. Pods
get no default route: they reach the other pods of their block and the host services listening
on the gateway address, and nothing they send can leave the machine.

Building it needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN), iproute2's `ip` and util-linux's
`nsenter`. Adding a pod costs two `ip -batch` runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from drills.core.errors import ConfigError, DrillError
from drills.sandbox.node import iproute
from drills.sandbox.node.ipam import (
    PodAddresses,
    block_of,
    bridge_name,
    host_part,
    mac_address,
    netns_name,
    veth_host_name,
)

__all__ = ["PodInterface", "PodNetwork", "cleanup_stale", "default_lock_dir", "exec_prefix"]


@dataclass(frozen=True)
class PodInterface:
    """One pod's place on the network: its namespace, address and host-side veth."""

    key: str
    netns: str
    ip: str
    veth_host: str


def exec_prefix(pod: PodInterface) -> list[str]:
    """The argv prefix that runs a command inside the pod's network namespace.

    `[*exec_prefix(pod), *argv]` execs argv in place (nsenter does not fork), so the pid of the
    started process is the command's own. ConfigError when nsenter is not installed.
    """
    nsenter = shutil.which("nsenter")
    if nsenter is None:
        raise iproute.requirements_error(["the `nsenter` command"])
    return [nsenter, f"--net={iproute.NETNS_DIR / pod.netns}", "--"]


def default_lock_dir() -> Path:
    """Where blocks are locked: /run/drills-pod-network, else <tmp>/drills-pod-network."""
    for folder in (Path("/run"), Path(tempfile.gettempdir())):
        candidate = folder / "drills-pod-network"
        with contextlib.suppress(OSError):
            candidate.mkdir(exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
    raise ConfigError("neither /run nor the temporary directory is writable; set TMPDIR")


def _try_lock(folder: Path, block: int) -> IO[str] | None:
    handle = (folder / f"block-{block}.lock").open("a", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _claim_block(folder: Path, first: int, last: int) -> tuple[int, IO[str]]:
    for block in range(first, last + 1):
        if (handle := _try_lock(folder, block)) is not None:
            return block, handle
    raise ConfigError(
        f"every pod network block 10.244.{first}-{last}.0/24 is held by a running sandbox (locks "
        f"in {folder}); stop one with `drills sandbox down` in its project"
    )


def _remove_block(block: int) -> list[str]:
    netns = [name for name in iproute.netns_names() if block_of(name) == block]
    links = [name for name in iproute.link_names() if block_of(name) == block]
    links.sort(key=lambda name: name == bridge_name(block))  # the bridge after its ports
    if netns or links:
        iproute.delete(netns, links)
    return [*netns, *links]


def _build_bridge(block: int) -> None:
    bridge = bridge_name(block)
    iproute.run_batch(
        [
            f"link add {bridge} address {mac_address(block, 1)} type bridge",
            *iproute.ipv6_off(bridge),
            f"addr add 10.244.{block}.1/24 dev {bridge}",
            f"link set {bridge} up",
        ]
    )


def _plumb(pod: PodInterface, block: int) -> None:
    peer = f"eth0 address {mac_address(block, host_part(pod.ip))} netns {pod.netns}"
    iproute.run_batch(
        [
            f"netns add {pod.netns}",
            f"link add {pod.veth_host} type veth peer name {peer}",
            *iproute.ipv6_off(pod.veth_host),
            f"link set {pod.veth_host} master {bridge_name(block)} up",
        ]
    )
    inside = ["link set lo up", *iproute.ipv6_off("eth0"), f"addr add {pod.ip}/24 dev eth0"]
    iproute.run_batch([*inside, "link set eth0 up"], netns=pod.netns)


class PodNetwork:
    """One sandbox's block: its bridge, gateway and pod namespaces.

    Methods are thread-safe (one lock) and block for a few milliseconds while `ip` runs; call
    them from asyncio through `asyncio.to_thread`.
    """

    def __init__(self, block: int, lock: IO[str], state_file: Path) -> None:
        self._block = block
        self._lock_file: IO[str] | None = lock
        self._state_file = state_file
        self._mutex = threading.Lock()
        self._addresses = PodAddresses(block)
        self._pods: dict[str, PodInterface] = {}
        self._last_index = 0

    @classmethod
    def create(
        cls, state_dir: Path, *, lock_dir: Path | None = None, first: int = 1, last: int = 254
    ) -> PodNetwork:
        """Claim the first free block in first..last and build its bridge.

        The claim is an exclusive flock on `<lock_dir>/block-<N>.lock` that the kernel drops when
        this process dies; leftovers of the block's dead former owner are removed first. Writes
        `<state_dir>/pod-network.json`. Raises ConfigError without root/capabilities/tools or
        when every block is taken, DrillError when `ip` fails.
        """
        if not 1 <= first <= last <= 254:
            raise ValueError(f"blocks must satisfy 1 <= first <= last <= 254, not {first}..{last}")
        iproute.require_privileges()
        block, lock = _claim_block(lock_dir or default_lock_dir(), first, last)
        try:
            _remove_block(block)
            _build_bridge(block)
        except BaseException:
            with contextlib.suppress(DrillError):
                _remove_block(block)
            lock.close()
            raise
        network = cls(block, lock, state_dir / "pod-network.json")
        network._write_state()
        return network

    @property
    def block(self) -> int:
        """The claimed block N."""
        return self._block

    @property
    def bridge(self) -> str:
        """The bridge's name, `drills<N>`."""
        return bridge_name(self._block)

    @property
    def gateway(self) -> str:
        """The host's address on the bridge, 10.244.N.1: where host services listen for pods."""
        return f"10.244.{self._block}.1"

    @property
    def cidr(self) -> str:
        """The pod network of this block, 10.244.N.0/24."""
        return f"10.244.{self._block}.0/24"

    def add_pod(self, key: str) -> PodInterface:
        """Give pod `key` its namespace, veth and address; the existing one if it has them.

        DrillError when `ip` fails (what was made is removed again) or after destroy().
        """
        with self._mutex:
            if (existing := self._pods.get(key)) is not None:
                return existing
            if self._lock_file is None:
                raise DrillError(f"pod network {self.bridge} was destroyed; create a new one")
            pod = self._next_pod(key)
            try:
                _plumb(pod, self._block)
            except BaseException:
                with contextlib.suppress(DrillError):
                    iproute.delete([pod.netns], [pod.veth_host])
                self._addresses.release(pod.ip)
                raise
            self._pods[key] = pod
            return pod

    def remove_pod(self, key: str) -> None:
        """Delete pod `key`'s namespace and veth and free its address; a no-op if unknown.

        Processes still inside the namespace keep running, cut off from the network.
        """
        with self._mutex:
            pod = self._pods.get(key)
            if pod is None:
                return
            iproute.delete([pod.netns], [pod.veth_host])
            del self._pods[key]
            self._addresses.release(pod.ip)

    def pods(self) -> list[PodInterface]:
        """The pods that currently have an interface."""
        with self._mutex:
            return list(self._pods.values())

    def exec_prefix(self, pod: PodInterface) -> list[str]:
        """Same as the module's `exec_prefix`."""
        return exec_prefix(pod)

    def destroy(self) -> None:
        """Remove every pod namespace and the bridge, then release the block; idempotent."""
        with self._mutex:
            if self._lock_file is None:
                return
            try:
                _remove_block(self._block)
            finally:
                self._pods.clear()
                self._addresses = PodAddresses(self._block)
                self._lock_file.close()
                self._lock_file = None
                self._state_file.unlink(missing_ok=True)

    def _next_pod(self, key: str) -> PodInterface:
        self._last_index += 1
        return PodInterface(
            key=key,
            netns=netns_name(self._block, self._last_index),
            ip=self._addresses.allocate(),
            veth_host=veth_host_name(self._block, self._last_index),
        )

    def _write_state(self) -> None:
        state = {"block": self.block, "bridge": self.bridge, "gateway": self.gateway}
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        self._state_file.write_text(json.dumps({**state, "cidr": self.cidr}) + "\n")


def cleanup_stale(lock_dir: Path | None = None) -> list[str]:
    """Remove the namespaces, veths and bridges of blocks whose owner died; return their names.

    A block counts as abandoned when its lock in `lock_dir` is free; the lock is held while its
    leftovers go, so no new sandbox can claim the block meanwhile. Blocks in use are untouched.
    """
    if shutil.which("ip") is None:
        return []  # without iproute2 nothing of ours can exist
    folder = lock_dir or default_lock_dir()
    blocks = {block_of(name) for name in (*iproute.netns_names(), *iproute.link_names())}
    removed: list[str] = []
    for block in sorted(block for block in blocks if block is not None):
        if (lock := _try_lock(folder, block)) is not None:
            with lock:
                removed += _remove_block(block)
    return removed
