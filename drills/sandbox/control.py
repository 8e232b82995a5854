"""`drills sandbox up|down|status`: start the sandbox daemon detached, inspect it, stop it.

`up(root)` first makes sure the pinned upstream binaries are built (in the foreground, with
progress: a cold build takes minutes), then spawns ``python -m drills.sandbox --root ROOT`` in
its own session and waits (with `drills.core.waiting.wait_until`) for
``.drills/sandbox/endpoints.json`` and the kubeconfig, and for 3 ready shop pods; it is
idempotent when a live daemon is already up. `down(root)` sends SIGTERM, waits, SIGKILLs what is
left (the daemon, the control plane's processes and the postgres/moto children, all found by the
state directory in their command line, and any pod process found through the `MARKER_ENV`
variable in /proc), removes the pod network a dead sandbox left (network namespaces, veths,
bridge), verifies that no process remains and removes the state. `status(root)` reports what
runs. `set_heartbeats(root, node, enabled)` stops or resumes a node's heartbeats through the
daemon's control socket.

Each returns a `SandboxState` and prints nothing; the CLI prints `SandboxState.lines()`.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.core.clock import DrillClock, SystemClock
from drills.core.conditions import Observation
from drills.core.errors import DrillError
from drills.core.waiting import wait_until
from drills.sandbox.build import binaries
from drills.sandbox.daemon import NAMESPACE, SandboxPaths
from drills.sandbox.node.kubelet import MARKER_ENV
from drills.sandbox.node.network import cleanup_stale
from drills.sandbox.postgres import check_reachable

__all__ = ["SandboxState", "down", "leftover_pids", "set_heartbeats", "status", "up"]

_READY_REPLICAS = 3


@dataclass
class SandboxState:
    """What `up`/`status`/`down` found."""

    running: bool
    pid: int | None = None
    endpoints: dict[str, Any] = field(default_factory=dict)
    pods: list[dict[str, Any]] = field(default_factory=list)
    leftovers: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable lines for the CLI."""
        if not self.running:
            stopped = f" (stopped daemon pid {self.pid})" if self.pid is not None else ""
            if self.leftovers:
                return [f"sandbox: not running{stopped}; processes LEFT: {self.leftovers}"]
            return [f"sandbox: not running{stopped}; no sandbox process left"]
        out = [f"sandbox: running (daemon pid {self.pid})"]
        shown = {key: value for key, value in self.endpoints.items() if key != "timings"}
        out += [f"  {key}: {value}" for key, value in sorted(shown.items())]
        if self.endpoints.get("timings"):
            count = len(self.endpoints["timings"])
            out.append(f"  settings away from upstream defaults: {count} (see endpoints.json)")
        for pod in self.pods:
            out.append(
                f"  pod {pod['name']}: {pod['phase']} ready={pod['ready']} "
                f"restarts={pod['restarts']} ip={pod['ip']} node={pod['node']}"
            )
        return out

    def __str__(self) -> str:
        """The lines joined, as the CLI prints them."""
        return "\n".join(self.lines())

    def __rich__(self) -> str:
        """Rich consoles print the plain lines (no markup in them)."""
        return str(self)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _daemon_pid(paths: SandboxPaths) -> int | None:
    try:
        pid = int(paths.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _tls(kubeconfig: Path) -> ssl.SSLContext:
    """TLS settings from the sandbox's own kubeconfig (JSON: CA file, client cert and key)."""
    config = json.loads(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    context = ssl.create_default_context(cafile=cluster["certificate-authority"])
    context.load_cert_chain(user["client-certificate"], user["client-key"])
    return context


def _get_json(url: str, kubeconfig: Path) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5, context=_tls(kubeconfig)) as answer:
        data: dict[str, Any] = json.loads(answer.read())
        return data


def _pods(endpoints: dict[str, Any]) -> list[dict[str, Any]]:
    url = f"{endpoints['kube_api']}/api/v1/namespaces/{NAMESPACE}/pods?labelSelector=app%3Dshop"
    pods = []
    for item in _get_json(url, Path(endpoints["kubeconfig"])).get("items", []):
        status = item.get("status", {})
        container = (status.get("containerStatuses") or [{}])[0]
        pods.append(
            {
                "name": item["metadata"]["name"],
                "phase": status.get("phase", "Pending"),
                "ready": bool(container.get("ready")),
                "restarts": int(container.get("restartCount", 0)),
                "ip": status.get("podIP", ""),
                "node": item.get("spec", {}).get("nodeName", ""),
            }
        )
    return pods


def _read_endpoints(paths: SandboxPaths) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(paths.endpoints.read_text())
    except (OSError, ValueError):
        return {}
    return data


def status(root: Path) -> SandboxState:
    """What runs: the daemon, its endpoints and the shop pods."""
    paths = SandboxPaths(root.resolve())
    pid = _daemon_pid(paths)
    if pid is None:
        return SandboxState(running=False, leftovers=leftover_pids(paths))
    endpoints = _read_endpoints(paths)
    try:
        pods = _pods(endpoints) if endpoints else []
    except (urllib.error.URLError, OSError, KeyError, ValueError):
        pods = []
    return SandboxState(running=True, pid=pid, endpoints=endpoints, pods=pods)


def _ready_observation(paths: SandboxPaths, daemon: subprocess.Popen[bytes]) -> Observation:
    if daemon.poll() is not None:
        log = paths.log.read_text(errors="replace")[-2000:] if paths.log.exists() else ""
        msg = f"the sandbox daemon exited with status {daemon.returncode}; its log ends:\n{log}"
        raise DrillError(msg)
    endpoints = _read_endpoints(paths)
    if not endpoints or not paths.kubeconfig.exists():
        return Observation(ok=False, detail="endpoints.json not written yet")
    try:
        ready = sum(1 for pod in _pods(endpoints) if pod["ready"])
    except (urllib.error.URLError, OSError, KeyError, ValueError):
        return Observation(ok=False, detail="API server not answering yet")
    return Observation(ok=ready >= _READY_REPLICAS, detail=f"{ready} ready shop pods")


def up(root: Path, *, timeout_s: float = 60.0, clock: DrillClock | None = None) -> SandboxState:
    """Build the binaries if needed, start the daemon detached (idempotent), await 3 ready pods.

    Raises ConfigError before anything starts when PostgreSQL's user cannot reach the root.
    """
    paths = SandboxPaths(root.resolve())
    check_reachable(paths.state / "postgres")
    if _daemon_pid(paths) is not None:
        return status(root)
    down(root)
    binaries(progress=True)
    paths.state.mkdir(parents=True, exist_ok=True)
    with paths.log.open("ab") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "drills.sandbox", "--root", str(paths.root)],
            cwd=paths.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_until(
        lambda: _ready_observation(paths, daemon),
        clock=clock or SystemClock(),
        timeout_s=timeout_s,
        poll_s=0.05,
        description="sandbox up with 3 ready shop pods",
    )
    return status(root)


def _cmdline_and_env(pid: int) -> tuple[bytes, bytes]:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes(),
            Path(f"/proc/{pid}/environ").read_bytes(),
        )
    except OSError:
        return b"", b""


def leftover_pids(paths: SandboxPaths) -> list[int]:
    """Live processes of this sandbox: pod processes, its daemon, postgres, moto and redis."""
    state = str(paths.state).encode()
    daemon = f"drills.sandbox\0--root\0{paths.root}".encode()
    aws = str(_read_endpoints(paths).get("aws_endpoint", ""))
    moto = f"-p\0{aws.rsplit(':', 1)[-1]}\0".encode() if aws else b"\0no moto\0"
    broker = _broker_pid(paths)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        cmdline, environ = _cmdline_and_env(int(entry.name))
        ours = f"{MARKER_ENV}=".encode() in environ and str(paths.root).encode() in cmdline
        ours = ours or (b"moto_server" in cmdline and moto in cmdline + b"\0")
        ours = ours or (b"drills.moto_rds" in cmdline and moto in cmdline + b"\0")
        ours = ours or (int(entry.name) == broker and b"redis-server" in cmdline)
        if (ours or daemon in cmdline or state in cmdline) and _alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def _broker_pid(paths: SandboxPaths) -> int:
    """The pid in the sandbox Redis's pid file (redis-server's title names no state path)."""
    try:
        return int((paths.state / "redis" / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return -1


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            continue


def down(root: Path, *, timeout_s: float = 30.0, clock: DrillClock | None = None) -> SandboxState:
    """Stop the daemon (SIGTERM, wait, SIGKILL stragglers) and remove the sandbox state."""
    paths = SandboxPaths(root.resolve())
    clock = clock or SystemClock()
    pid = _daemon_pid(paths)
    if pid is not None:
        _signal_all([pid], signal.SIGTERM)
        wait_until(
            lambda: not _alive(pid),
            clock=clock,
            timeout_s=timeout_s,
            poll_s=0.05,
            description="sandbox daemon exited",
            raise_on_timeout=False,
        )
    _signal_all(leftover_pids(paths), signal.SIGKILL)
    wait_until(
        lambda: not leftover_pids(paths),
        clock=clock,
        timeout_s=10.0,
        poll_s=0.05,
        description="no sandbox process left",
        raise_on_timeout=False,
    )
    left = leftover_pids(paths)
    cleanup_stale()
    if not left:
        for name in ("endpoints.json", "daemon.pid", "kubeconfig", "control.sock"):
            (paths.state / name).unlink(missing_ok=True)
    return SandboxState(running=False, pid=pid, leftovers=left)


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over the daemon's Unix control socket."""

    def __init__(self, path: Path) -> None:
        super().__init__("sandbox", timeout=10)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(str(self._path))
        self.sock = sock


def set_heartbeats(root: Path, node: str, *, enabled: bool) -> dict[str, Any]:
    """Stop or resume a sandbox node's heartbeats (Lease and status), as when a node dies."""
    paths = SandboxPaths(root.resolve())
    if _daemon_pid(paths) is None or not paths.control_socket.exists():
        raise DrillError("the sandbox is not running; start it with `drills sandbox up`")
    connection = _UnixConnection(paths.control_socket)
    try:
        body = json.dumps({"enabled": enabled})
        connection.request("POST", f"/nodes/{node}/heartbeats", body=body)
        answer = connection.getresponse()
        text = answer.read().decode()
    finally:
        connection.close()
    if answer.status != 200:
        raise DrillError(f"node {node}: {text.strip()}")
    data: dict[str, Any] = json.loads(text)
    return data
