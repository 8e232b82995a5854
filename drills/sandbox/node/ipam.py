"""Names and addresses of the pod network: pure bookkeeping, no system calls.

Block N owns the bridge `drills<N>` with gateway 10.244.N.1, pod namespaces `drills-<N>-<i>`
and host-side veths `drv<N>p<i>`; every name of block N carries N, so leftovers of a dead
sandbox can be told apart from a live one's by the block's lock alone.
"""

from __future__ import annotations

import re
from collections import deque

from drills.core.errors import DrillError

__all__ = [
    "IFNAMSIZ",
    "PodAddresses",
    "block_of",
    "bridge_name",
    "host_part",
    "mac_address",
    "netns_name",
    "veth_host_name",
]

IFNAMSIZ = 15  # the kernel's limit on interface names (16 bytes with the trailing NUL)
_OWNED_NAMES = (
    re.compile(r"drills(\d+)"),
    re.compile(r"drills-(\d+)-\d+"),
    re.compile(r"drv(\d+)p\d+"),
)


def bridge_name(block: int) -> str:
    """Name of the bridge of block `block`."""
    return f"drills{block}"


def netns_name(block: int, index: int) -> str:
    """Name of the `index`-th pod network namespace of block `block`."""
    return f"drills-{block}-{index}"


def veth_host_name(block: int, index: int) -> str:
    """Host-side veth name of that pod; ValueError if it would not fit an interface name."""
    name = f"drv{block}p{index}"
    if len(name) > IFNAMSIZ:
        raise ValueError(f"interface name {name!r} is longer than {IFNAMSIZ} characters")
    return name


def block_of(name: str) -> int | None:
    """The block a bridge, namespace or veth named by this module belongs to, else None."""
    for pattern in _OWNED_NAMES:
        if match := pattern.fullmatch(name):
            return int(match.group(1))
    return None


def host_part(ip: str) -> int:
    """The last octet of an IPv4 address."""
    return int(ip.rpartition(".")[2])


def mac_address(block: int, host: int) -> str:
    """The fixed, locally administered MAC of address 10.244.<block>.<host>.

    A pod given a reused address also gets the old MAC, so its neighbours' ARP caches stay
    right; the bridge (host 1) keeps one MAC instead of following its lowest port's.
    """
    return f"02:42:0a:f4:{block:02x}:{host:02x}"


class PodAddresses:
    """Host-local IPAM for one block: 10.244.N.2 to .254, each held by at most one pod.

    Addresses come out in a rotating order: one just released is handed out again only after
    every other free address, so a replacement pod rarely inherits a dead pod's address.
    """

    def __init__(self, block: int) -> None:
        self.block = block
        self._free: deque[int] = deque(range(2, 255))
        self._in_use: set[int] = set()

    @property
    def in_use(self) -> int:
        """How many addresses are handed out."""
        return len(self._in_use)

    def allocate(self) -> str:
        """The next free address; DrillError when all 253 are held."""
        if not self._free:
            raise DrillError(
                f"every pod address of 10.244.{self.block}.0/24 is in use; delete pods first"
            )
        host = self._free.popleft()
        self._in_use.add(host)
        return f"10.244.{self.block}.{host}"

    def release(self, ip: str) -> None:
        """Put an address back at the end of the queue; a no-op for one not handed out."""
        prefix, _, host = ip.rpartition(".")
        if prefix == f"10.244.{self.block}" and host.isdigit() and int(host) in self._in_use:
            self._in_use.remove(int(host))
            self._free.append(int(host))
