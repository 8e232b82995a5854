"""Pure parts of the pod network: names, addresses, requirement checks, and the bookkeeping of
PodNetwork against a fake `ip` (no root, no namespaces, no subprocesses)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from drills.core.errors import ConfigError, DrillError
from drills.sandbox.node import iproute, network
from drills.sandbox.node.ipam import (
    IFNAMSIZ,
    PodAddresses,
    block_of,
    bridge_name,
    mac_address,
    netns_name,
    veth_host_name,
)
from drills.sandbox.node.network import PodInterface, PodNetwork, exec_prefix

# --- names -------------------------------------------------------------------------------------


def test_names_carry_the_block_and_the_pod_index() -> None:
    assert bridge_name(7) == "drills7"
    assert netns_name(7, 12) == "drills-7-12"
    assert veth_host_name(7, 12) == "drv7p12"


def test_host_veth_names_fit_the_kernel_limit_for_a_huge_index() -> None:
    assert len(veth_host_name(254, 99_999_999)) == IFNAMSIZ
    with pytest.raises(ValueError, match="longer than 15"):
        veth_host_name(254, 100_000_000)


@pytest.mark.parametrize(
    ("name", "block"),
    [
        ("drills3", 3),
        ("drills-3-17", 3),
        ("drv254p1", 254),
        ("drills", None),
        ("drills-3", None),
        ("drills3x", None),
        ("drv3", None),
        ("eth0", None),
        ("docker0", None),
    ],
)
def test_block_is_parsed_only_from_names_we_make(name: str, block: int | None) -> None:
    assert block_of(name) == block


def test_every_name_we_make_parses_back_to_its_block() -> None:
    for block in (1, 42, 254):
        names = [bridge_name(block), netns_name(block, 9), veth_host_name(block, 9)]
        assert {block_of(name) for name in names} == {block}


def test_macs_are_fixed_per_address_and_locally_administered() -> None:
    assert mac_address(1, 1) == "02:42:0a:f4:01:01"
    assert mac_address(254, 37) == "02:42:0a:f4:fe:25"
    assert mac_address(3, 5) == mac_address(3, 5) != mac_address(4, 5)


# --- addresses ---------------------------------------------------------------------------------


def test_addresses_start_after_the_gateway() -> None:
    addresses = PodAddresses(5)
    assert [addresses.allocate() for _ in range(3)] == ["10.244.5.2", "10.244.5.3", "10.244.5.4"]


def test_a_released_address_comes_back_last() -> None:
    addresses = PodAddresses(1)
    first = addresses.allocate()
    addresses.release(first)
    handed_out = [addresses.allocate() for _ in range(253)]
    assert handed_out[-1] == first
    assert len(set(handed_out)) == 253


def test_no_address_is_handed_out_twice_while_in_use() -> None:
    addresses = PodAddresses(1)
    taken = {addresses.allocate() for _ in range(253)}
    assert len(taken) == 253
    assert "10.244.1.1" not in taken
    assert "10.244.1.255" not in taken
    with pytest.raises(DrillError, match="in use"):
        addresses.allocate()


def test_releasing_what_was_not_handed_out_changes_nothing() -> None:
    addresses = PodAddresses(1)
    ip = addresses.allocate()
    for stranger in ("10.244.2.2", "10.244.1.1", "10.244.1.3", "garbage", ip):
        addresses.release(stranger)
    assert addresses.in_use == 0
    assert addresses.allocate() == "10.244.1.3"  # the double release did not queue ip twice


# --- requirements ------------------------------------------------------------------------------

_ALL_TOOLS: dict[str, str | None] = {"ip": "/usr/sbin/ip", "nsenter": "/usr/bin/nsenter"}


def test_capabilities_are_read_from_proc_status() -> None:
    status = "Name:\tpython\nCapInh:\t0000000000000000\nCapEff:\t0000000000201000\n"
    assert iproute.effective_capabilities(status) == (1 << 12) | (1 << 21)
    assert iproute.effective_capabilities("Name:\tpython\n") == 0


def test_root_with_its_tools_lacks_nothing() -> None:
    everything = (1 << 41) - 1
    needs = iproute.missing_requirements(
        capabilities=everything, tools=_ALL_TOOLS, netns_dir_writable=True
    )
    assert needs == []


def test_an_unprivileged_user_is_told_every_missing_piece() -> None:
    needs = iproute.missing_requirements(
        capabilities=0, tools={"ip": None, "nsenter": None}, netns_dir_writable=False
    )
    text = " ".join(needs)
    for piece in ("`ip`", "`nsenter`", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "/run/netns"):
        assert piece in text


def test_the_error_says_how_to_run_instead() -> None:
    message = str(iproute.requirements_error(["CAP_NET_ADMIN (to create the bridge)"]))
    assert "missing: CAP_NET_ADMIN" in message
    assert "sudo" in message
    assert "apt-get install iproute2" in message
    assert "unshare --user --map-root-user --net --mount" in message


def test_exec_prefix_enters_the_pods_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _: "/usr/bin/nsenter")
    pod = PodInterface(key="a", netns="drills-1-4", ip="10.244.1.2", veth_host="drv1p4")
    assert exec_prefix(pod) == ["/usr/bin/nsenter", "--net=/run/netns/drills-1-4", "--"]


def test_exec_prefix_without_nsenter_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _: None)
    pod = PodInterface(key="a", netns="drills-1-4", ip="10.244.1.2", veth_host="drv1p4")
    with pytest.raises(ConfigError, match="util-linux"):
        exec_prefix(pod)


# --- PodNetwork bookkeeping against a fake `ip` ------------------------------------------------


class FakeIp:
    """Just enough of iproute2 for PodNetwork: names that exist, and failures on demand."""

    def __init__(self) -> None:
        self.netns: set[str] = set()
        self.links: set[str] = set()
        self.fail_on: str | None = None

    def run_batch(self, commands: Sequence[str], *, netns: str | None = None) -> None:
        for command in commands:
            if self.fail_on is not None and self.fail_on in command:
                raise DrillError(f"ip failed on {command!r}")
            words = command.split()
            if words[:2] == ["netns", "add"]:
                self.netns.add(words[2])
            elif words[:2] == ["link", "add"] and netns is None:
                self.links.add(words[2])

    def delete(self, netns: Sequence[str], links: Sequence[str]) -> None:
        self.netns -= set(netns)
        self.links -= set(links)


@pytest.fixture
def fake_ip(monkeypatch: pytest.MonkeyPatch) -> FakeIp:
    fake = FakeIp()
    monkeypatch.setattr(iproute, "require_privileges", lambda: None)
    monkeypatch.setattr(iproute, "run_batch", fake.run_batch)
    monkeypatch.setattr(iproute, "delete", fake.delete)
    monkeypatch.setattr(iproute, "netns_names", lambda: sorted(fake.netns))
    monkeypatch.setattr(iproute, "link_names", lambda: sorted(fake.links))
    return fake


def test_create_claims_distinct_blocks_and_reports_them(fake_ip: FakeIp, tmp_path: Path) -> None:
    first = PodNetwork.create(tmp_path / "a", lock_dir=tmp_path, first=3)
    second = PodNetwork.create(tmp_path / "b", lock_dir=tmp_path, first=3)
    assert (first.block, second.block) == (3, 4)
    assert (first.bridge, first.gateway, first.cidr) == ("drills3", "10.244.3.1", "10.244.3.0/24")
    assert fake_ip.links == {"drills3", "drills4"}
    assert '"gateway": "10.244.3.1"' in (tmp_path / "a" / "pod-network.json").read_text()


def test_every_block_taken_is_a_config_error(fake_ip: FakeIp, tmp_path: Path) -> None:
    held = PodNetwork.create(tmp_path, lock_dir=tmp_path, first=9, last=9)
    with pytest.raises(ConfigError, match="drills sandbox down"):
        PodNetwork.create(tmp_path, lock_dir=tmp_path, first=9, last=9)
    held.destroy()
    assert PodNetwork.create(tmp_path, lock_dir=tmp_path, first=9, last=9).block == 9


def test_a_dead_owners_leftovers_go_before_the_block_is_used(
    fake_ip: FakeIp, tmp_path: Path
) -> None:
    fake_ip.netns |= {"drills-1-5", "drills-2-1"}
    fake_ip.links |= {"drills1", "drv1p5", "drills2"}
    PodNetwork.create(tmp_path, lock_dir=tmp_path)
    assert fake_ip.netns == {"drills-2-1"}
    assert fake_ip.links == {"drills1", "drills2"}  # block 1's bridge is the new one


def test_add_pod_is_idempotent_per_key(fake_ip: FakeIp, tmp_path: Path) -> None:
    net = PodNetwork.create(tmp_path, lock_dir=tmp_path)
    a, b = net.add_pod("a"), net.add_pod("b")
    assert net.add_pod("a") == a
    assert (a.ip, b.ip) == ("10.244.1.2", "10.244.1.3")
    assert (a.netns, a.veth_host) == ("drills-1-1", "drv1p1")
    assert b.netns != a.netns
    assert fake_ip.netns == {a.netns, b.netns}


def test_remove_pod_frees_the_address_for_last(fake_ip: FakeIp, tmp_path: Path) -> None:
    net = PodNetwork.create(tmp_path, lock_dir=tmp_path)
    a = net.add_pod("a")
    net.remove_pod("a")
    net.remove_pod("a")
    replacement = net.add_pod("a")
    assert replacement.ip != a.ip
    assert replacement.netns != a.netns
    assert a.netns not in fake_ip.netns
    assert net.pods() == [replacement]


def test_a_failed_add_leaves_nothing_behind(fake_ip: FakeIp, tmp_path: Path) -> None:
    net = PodNetwork.create(tmp_path, lock_dir=tmp_path)
    fake_ip.fail_on = "addr add"
    with pytest.raises(DrillError, match="addr add"):
        net.add_pod("a")
    assert fake_ip.netns == set()
    assert fake_ip.links == {"drills1"}
    fake_ip.fail_on = None
    assert net.add_pod("a").ip == "10.244.1.3"  # .2 was released to the back of the queue
    assert net.pods()[0].key == "a"


def test_destroy_removes_everything_once(fake_ip: FakeIp, tmp_path: Path) -> None:
    net = PodNetwork.create(tmp_path, lock_dir=tmp_path)
    net.add_pod("a")
    net.add_pod("b")
    net.destroy()
    net.destroy()
    assert (fake_ip.netns, fake_ip.links) == (set(), set())
    assert not (tmp_path / "pod-network.json").exists()
    with pytest.raises(DrillError, match="destroyed"):
        net.add_pod("c")


def test_cleanup_stale_spares_blocks_whose_owner_lives(
    fake_ip: FakeIp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _: "/usr/sbin/ip")
    live = PodNetwork.create(tmp_path, lock_dir=tmp_path, first=1, last=1)
    live.add_pod("a")
    fake_ip.netns |= {"drills-2-1"}
    fake_ip.links |= {"drills2", "drv2p1"}
    removed = network.cleanup_stale(tmp_path)
    assert sorted(removed) == ["drills-2-1", "drills2", "drv2p1"]
    assert fake_ip.netns == {"drills-1-1"}
    assert fake_ip.links == {"drills1", "drv1p1"}
    assert network.cleanup_stale(tmp_path) == []


def test_blocks_out_of_range_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="1 <= first <= last <= 254"):
        PodNetwork.create(tmp_path, first=0)
