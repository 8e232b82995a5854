"""A real Redis server for the sandbox: the shop's task broker (RUNBOOKS.md §3.16).

The binary is Debian's `redis-server` (7.0), which `make` installs as root when it is missing
(the PyPI wheel `redis-server` ships no build for this platform and Python). The server runs
daemonised (`daemonize yes`, a pid file), so the process that stops it (the broker-down fault)
and the one that starts it again (its rollback, perhaps `drills rollback` after a crash) need
not be the one that started it first: everything it needs is in its own directory.

Each instance lives in `<root>/`:

    redis.conf   the settings of the last start (port, bind address, pid file, log)
    redis.pid    the server's pid while it runs
    redis.log    the server's log
    appendonlydir/  the append-only file (every write fsynced before it is acknowledged)
    port         the TCP port of the last start (kept, so a restart keeps the address)

It listens on the pod network's gateway (pods reach the host only there; the harness reaches
the same address), protected mode off: the address is reachable only from this machine and the
sandbox's own network namespaces. Persistence as a broker wants it: the append-only file with
`appendfsync always` (no RDB snapshots), so a broker that stops, or is killed, comes back with
every task it acknowledged; the broker-down drill judges the shop and the workers across it.

How the sandbox daemon uses it::

    redis = LocalRedis(state / "redis", host=gateway)
    url = redis.start()     # "redis://<gateway>:<port>/0", answers PING when this returns
    ...
    redis.stop()            # SIGTERM, then waits until the pid is gone (KILL after the timeout)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from drills.core.clock import DrillClock, SystemClock
from drills.core.conditions import Observation
from drills.core.errors import ConfigError, DrillError
from drills.core.waiting import wait_until

__all__ = ["LocalRedis", "ping", "redis_executable"]

INSTALL_HINT = (
    "redis-server not found on PATH. Fix: `make` installs it as root "
    "(apt-get install -y redis-server); or install Debian's redis-server by hand"
)


def redis_executable() -> str:
    """The redis-server binary on PATH; ConfigError saying how to install it otherwise."""
    found = shutil.which("redis-server")
    if found is None:
        raise ConfigError(INSTALL_HINT)
    return found


def ping(host: str, port: int, *, timeout_s: float = 1.0) -> Observation:
    """One `PING` over the wire (RESP); ok when the server answers `+PONG`."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            answer = sock.recv(64)
    except OSError as exc:
        return Observation(ok=False, detail=f"redis {host}:{port}: {exc}")
    return Observation(ok=answer.startswith(b"+PONG"), detail=answer.decode(errors="replace"))


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


class LocalRedis:
    """Start, probe and stop one daemonised redis-server whose state is in `root`."""

    def __init__(
        self, root: Path, *, host: str = "127.0.0.1", clock: DrillClock | None = None
    ) -> None:
        self.root = root
        self.host = host
        self.clock = clock or SystemClock()

    @property
    def port_file(self) -> Path:
        """Where the port of the last start is kept."""
        return self.root / "port"

    @property
    def pid_file(self) -> Path:
        """The server's pid file (written by redis-server itself)."""
        return self.root / "redis.pid"

    @property
    def log_path(self) -> Path:
        """The server's log."""
        return self.root / "redis.log"

    @property
    def port(self) -> int | None:
        """The port of the last start, or None before the first."""
        with contextlib.suppress(OSError, ValueError):
            return int(self.port_file.read_text().strip())
        return None

    def url(self) -> str:
        """`redis://host:port/0`, what Celery and redis-py take."""
        if self.port is None:
            raise DrillError(f"redis under {self.root} was never started")
        return f"redis://{self.host}:{self.port}/0"

    def pid(self) -> int | None:
        """The running server's pid, or None when it does not run."""
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pid_file.read_text().strip())
            if _alive(pid):
                return pid
        return None

    def running(self) -> bool:
        """True while the server's process lives."""
        return self.pid() is not None

    def answers(self) -> Observation:
        """One PING at its address."""
        port = self.port
        if port is None:
            return Observation(ok=False, detail="never started")
        return ping(self.host, port)

    def start(self, *, timeout_s: float = 20.0) -> str:
        """Start (same port as last time when it is free) and wait for PING; return the URL."""
        if self.running():
            return self.url()
        self.root.mkdir(parents=True, exist_ok=True)
        port = self.port
        if port is None or not _port_free(self.host, port):
            port = _free_port(self.host)
        self.port_file.write_text(f"{port}\n")
        conf = self.root / "redis.conf"
        conf.write_text(self._settings(port))
        self.pid_file.unlink(missing_ok=True)
        done = subprocess.run(
            [redis_executable(), str(conf)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise DrillError(f"redis-server did not start: {done.stderr or done.stdout}")
        wait_until(
            self.answers,
            clock=self.clock,
            timeout_s=timeout_s,
            poll_s=0.05,
            description=f"redis on {self.host}:{port} answers PING",
        )
        return self.url()

    def _settings(self, port: int) -> str:
        return (
            f"port {port}\nbind {self.host}\nprotected-mode no\ndaemonize yes\n"
            f"pidfile {self.pid_file}\nlogfile {self.log_path}\ndir {self.root}\n"
            'save ""\nappendonly yes\nappendfsync always\n'
        )

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """SIGTERM the server and wait until its pid is gone (SIGKILL after `timeout_s`)."""
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        gone = wait_until(
            lambda: Observation(ok=not _alive(pid), detail=f"pid {pid}"),
            clock=self.clock,
            timeout_s=timeout_s,
            poll_s=0.05,
            raise_on_timeout=False,
            description=f"redis pid {pid} exits",
        )
        if not gone.met:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            wait_until(
                lambda: Observation(ok=not _alive(pid), detail=f"pid {pid}"),
                clock=self.clock,
                timeout_s=timeout_s,
                poll_s=0.05,
                description=f"redis pid {pid} exits after SIGKILL",
            )
        self.pid_file.unlink(missing_ok=True)


def _port_free(host: str, port: int) -> bool:
    """Whether redis-server could listen on `port`.

    redis-server sets SO_REUSEADDR, so connections of its previous run still in TIME_WAIT do not
    make the port busy: a restart keeps its address.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
