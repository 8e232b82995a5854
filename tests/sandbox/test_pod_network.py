"""The pod network with real namespaces, veths and a bridge (needs root and iproute2).

Every network here claims its block from the shared default lock directory, like a real
sandbox does, so these tests never take a block a running sandbox holds.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from drills.sandbox.node import iproute
from drills.sandbox.node.ipam import block_of
from drills.sandbox.node.network import PodInterface, PodNetwork, cleanup_stale, exec_prefix

REPO = Path(__file__).resolve().parents[2]
_NEEDS = iproute.missing_requirements(
    capabilities=iproute.effective_capabilities(Path("/proc/self/status").read_text()),
    tools={tool: shutil.which(tool) for tool in ("ip", "nsenter")},
    netns_dir_writable=os.access("/run", os.W_OK),
)
pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(
        bool(_NEEDS),
        reason="pod network tests need root (or CAP_NET_ADMIN + CAP_SYS_ADMIN) and iproute2; "
        f"missing: {'; '.join(_NEEDS)}. Run them as root.",
    ),
]


@pytest.fixture
def net(tmp_path: Path) -> Iterator[PodNetwork]:
    network = PodNetwork.create(tmp_path / "state")
    yield network
    network.destroy()


@pytest.fixture
def http_pod(
    net: PodNetwork, tmp_path: Path
) -> Iterator[tuple[PodInterface, subprocess.Popen[bytes]]]:
    """Pod A running `python -m http.server` on its own address, port 8080, once it answers."""
    pod = net.add_pod("a")
    (tmp_path / "hello.txt").write_text("hello from pod a")
    argv = [sys.executable, "-m", "http.server", "--bind", pod.ip, "--directory", str(tmp_path)]
    server = subprocess.Popen(
        [*exec_prefix(pod), *argv, "8080"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: _answers(f"http://{pod.ip}:8080/hello.txt"),
            clock=SystemClock(),
            timeout_s=15,
            poll_s=0.05,
            description="the pod's HTTP server answers",
        )
        yield pod, server
    finally:
        server.kill()
        server.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _in_pod(pod: PodInterface, code: str, *args: str) -> str:
    argv = [*exec_prefix(pod), sys.executable, "-c", code, *args]
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30).stdout


def _names_of_block(block: int) -> list[str]:
    netns = subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, text=True)
    links = subprocess.run(["ip", "-o", "link"], check=True, capture_output=True, text=True)
    names = [line.split()[0] for line in netns.stdout.splitlines() if line.strip()]
    names += [line.split()[1].rstrip(":").split("@")[0] for line in links.stdout.splitlines()]
    return [name for name in names if block_of(name) == block]


def test_pods_get_distinct_addresses_in_the_block(net: PodNetwork) -> None:
    a, b = net.add_pod("a"), net.add_pod("b")
    assert a.ip != b.ip
    assert {a.ip.rpartition(".")[0], b.ip.rpartition(".")[0]} == {f"10.244.{net.block}"}
    assert net.add_pod("a") == a
    assert sorted(_names_of_block(net.block)) == sorted(
        [net.bridge, a.netns, b.netns, a.veth_host, b.veth_host]
    )


def test_a_server_in_a_pod_answers_the_host_and_other_pods(
    net: PodNetwork, http_pod: tuple[PodInterface, subprocess.Popen[bytes]]
) -> None:
    pod, server = http_pod
    url = f"http://{pod.ip}:8080/hello.txt"
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == b"hello from pod a"
    fetch = (
        "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read())"
    )
    assert _in_pod(net.add_pod("b"), fetch, url).strip() == "b'hello from pod a'"
    # nsenter execs in place: the pid we hold is the server's, inside the pod's namespace.
    assert os.stat(f"/proc/{server.pid}/ns/net").st_ino == os.stat(f"/run/netns/{pod.netns}").st_ino


def test_a_pod_reaches_host_services_on_the_gateway(net: PodNetwork) -> None:
    pod = net.add_pod("a")
    with socket.create_server((net.gateway, 0)) as listener:
        listener.settimeout(10)
        port = listener.getsockname()[1]
        send = (
            "import socket, sys\n"
            "socket.create_connection((sys.argv[1], int(sys.argv[2]))).sendall(b'ping')"
        )
        _in_pod(pod, send, net.gateway, str(port))
        connection, (peer, _) = listener.accept()
        with connection:
            assert connection.recv(4) == b"ping"
    assert peer == pod.ip


def test_a_pod_has_no_route_off_its_block(net: PodNetwork) -> None:
    pod = net.add_pod("a")
    routes = subprocess.run(
        ["ip", "-n", pod.netns, "-4", "route"], check=True, capture_output=True, text=True
    )
    assert [line.split()[0] for line in routes.stdout.splitlines()] == [net.cidr]
    probe = (
        "import socket\ntry:\n    socket.create_connection(('192.0.2.1', 80), timeout=5)\n"
        "except OSError as error:\n    print(error.errno)"
    )
    assert _in_pod(pod, probe).strip() == str(errno.ENETUNREACH)


def test_two_networks_claim_different_blocks(net: PodNetwork, tmp_path: Path) -> None:
    other = PodNetwork.create(tmp_path / "other")
    try:
        assert other.block != net.block
        assert other.gateway != net.gateway
        assert net.bridge in _names_of_block(net.block)
        assert other.bridge in _names_of_block(other.block)
    finally:
        other.destroy()


def test_removing_a_pod_deletes_its_namespace_and_veth(net: PodNetwork) -> None:
    pod = net.add_pod("a")
    net.remove_pod("a")
    net.remove_pod("a")
    assert _names_of_block(net.block) == [net.bridge]
    assert net.add_pod("a").ip != pod.ip


def test_destroy_leaves_nothing_named_after_the_block(tmp_path: Path) -> None:
    network = PodNetwork.create(tmp_path)
    network.add_pod("a")
    network.add_pod("b")
    network.destroy()
    network.destroy()
    assert _names_of_block(network.block) == []


_VICTIM = """
import sys
from pathlib import Path
from drills.sandbox.node.network import PodNetwork
network = PodNetwork.create(Path(sys.argv[1]))
pod = network.add_pod("victim")
print(network.block, network.bridge, pod.netns, pod.veth_host, flush=True)
sys.stdin.read()
"""


def test_cleanup_stale_removes_what_a_killed_owner_left(tmp_path: Path) -> None:
    victim = subprocess.Popen(
        [sys.executable, "-c", _VICTIM, str(tmp_path)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert victim.stdout is not None
    block, *names = victim.stdout.readline().split()
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=10) == -signal.SIGKILL
    assert sorted(_names_of_block(int(block))) == sorted(names)
    assert set(names) <= set(cleanup_stale())
    assert _names_of_block(int(block)) == []


def test_cleanup_stale_spares_a_live_network(net: PodNetwork) -> None:
    pod = net.add_pod("a")
    removed = cleanup_stale()
    assert not {net.bridge, pod.netns, pod.veth_host} & set(removed)
    assert sorted(_names_of_block(net.block)) == sorted([net.bridge, pod.netns, pod.veth_host])


def test_without_the_capabilities_create_says_what_is_needed(tmp_path: Path) -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed; it drops the capabilities here")
    drop = "-net_admin,-sys_admin"
    code = (
        "import sys\nfrom pathlib import Path\nfrom drills.core.errors import ConfigError\n"
        "from drills.sandbox.node.network import PodNetwork\n"
        "try:\n    PodNetwork.create(Path(sys.argv[1]))\n"
        "except ConfigError as error:\n    print(error)"
    )
    argv = [setpriv, f"--inh-caps={drop}", f"--bounding-set={drop}", sys.executable, "-c", code]
    done = subprocess.run(
        [*argv, str(tmp_path)], cwd=REPO, check=True, capture_output=True, text=True, timeout=30
    )
    assert "missing: CAP_NET_ADMIN" in done.stdout
    assert "CAP_SYS_ADMIN" in done.stdout
    assert "sudo" in done.stdout
