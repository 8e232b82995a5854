"""Locust as the drill's load generator: subprocesses, headless, streaming every request back.

Locust runs as a SUBPROCESS (its gevent monkey-patching breaks a process that imported ssl or
urllib3 first; see DESIGN.md). The harness listens on a loopback TCP port and passes it as
`DRILLS_STREAM_ADDR`; the locustfile installs `locust_stream`, so every Locust process that runs
users (the standalone process, or each worker) connects and sends one line per request
(format in `stream_wire`). A reader thread per connection turns lines into `RequestRecord`s
for the sink (e.g. `TrafficRecorder.add`) and acknowledged writes (POST /orders answered 201) into
`AcknowledgedWrite`s (e.g. for `WriteLedger.record`). A read that found an acknowledged order gone
(404) reaches the sink as a failed record carrying the key (`RequestRecord.missing_key`).

`check_running()` raises LoadGeneratorDied when a Locust process exited on its own (its exit
status and the tail of its log in the message) or a line of the stream could not be read: the
drill's traffic conditions and kill switch call it, so a dead generator ends the drill ERROR
instead of reading as an outage or, worse, as "no request failed".

Timestamps are `time.monotonic()` in the Locust process: CLOCK_MONOTONIC is system-wide on Linux,
so they are on the axis of the harness's SystemClock. That holds only on one host: to run
workers on other hosts or as Kubernetes Jobs, use the same options (`--worker --master-host
<master> --master-port <port>`, same locustfile, `DRILLS_STREAM_ADDR` pointing at a port the
harness exposes to them) and stream wall time instead, correcting each host's offset (NTP); the
master only coordinates and makes no requests, so it never streams.

`stop()` sends SIGTERM (Locust fires `test_stop` and `quitting`, where the stream flushes and
closes), waits up to `stop_timeout_s`, then SIGKILLs the process group, and drains every
connection until EOF so the last second of traffic is kept.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from drills.core.clock import DrillClock, SystemClock
from drills.core.dataloss import AcknowledgedWrite
from drills.core.errors import DrillError, LoadGeneratorDied
from drills.targets.adapters.stream_wire import MISSING, Decoded, decode
from drills.targets.ports.load import RequestRecord, RequestSink, ShapeSpec

__all__ = ["LocustLoad", "RemoteWorkers", "StreamServer", "request_of"]

AckSink = Callable[[AcknowledgedWrite], None]


class StreamServer:
    """Loopback TCP server reading JSON lines from every Locust process (one thread each)."""

    def __init__(
        self,
        sink: RequestSink,
        on_ack: AckSink | None = None,
        *,
        bind_host: str = "127.0.0.1",
        clock: DrillClock | None = None,
    ) -> None:
        self._sink, self._on_ack = sink, on_ack
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._users: dict[int, int] = {}
        self._acks: list[AcknowledgedWrite] = []
        self._readers: list[threading.Thread] = []
        self.bad_lines = 0
        self.first_bad_line: str | None = None
        self.records = 0
        self.connections = 0
        self._listener = socket.create_server((bind_host, 0))
        self.port = int(self._listener.getsockname()[1])
        self.address = f"{bind_host}:{self.port}"
        self._acceptor = threading.Thread(target=self._accept, name="drills-stream", daemon=True)
        self._acceptor.start()

    def users(self) -> int:
        """Sum of the latest user count each connected process reported."""
        with self._lock:
            return sum(self._users.values())

    def acknowledged(self) -> list[AcknowledgedWrite]:
        """A copy of every acknowledged write received."""
        with self._lock:
            return list(self._acks)

    def close(self, *, drain_timeout_s: float) -> None:
        """Stop accepting, then wait (bounded) for every connection to reach EOF."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._acceptor.join(timeout=2.0)
        with self._lock:
            readers = list(self._readers)
        for reader in readers:
            reader.join(timeout=drain_timeout_s)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # listener closed
            reader = threading.Thread(
                target=self._read, args=(conn,), name="drills-stream-reader", daemon=True
            )
            with self._lock:
                self._readers.append(reader)
                self.connections += 1
            reader.start()

    def _read(self, conn: socket.socket) -> None:
        conn_id, offset_s = id(conn), 0.0
        with conn, conn.makefile("rb") as lines:
            for raw in lines:
                offset_s = self._handle(conn_id, raw, offset_s)
        with self._lock:
            self._users.pop(conn_id, None)

    def _wall_offset_s(self) -> float:
        """Wall time minus monotonic time here: maps a remote wall timestamp onto our axis."""
        return self._clock.wall().timestamp() - self._clock.now()

    def _handle(self, conn_id: int, raw: bytes, offset_s: float) -> float:
        """Handle one line; returns the connection's clock offset (changed by a C line)."""
        line = decode(raw)
        if line is None:
            with self._lock:
                self.bad_lines += 1
                if self.first_bad_line is None:
                    self.first_bad_line = raw[:200].decode(errors="replace").rstrip()
            return offset_s
        if isinstance(line, str):
            return self._wall_offset_s() if line == "wall" else 0.0
        if isinstance(line, int):
            with self._lock:
                self._users[conn_id] = line
            return offset_s
        self._record(line, offset_s)
        return offset_s

    def _record(self, line: Decoded, offset_s: float) -> None:
        record, write = request_of(line, offset_s)
        self.records += 1
        self._sink(record)
        if write is not None:
            self._ack(write)

    def _ack(self, write: AcknowledgedWrite) -> None:
        with self._lock:
            self._acks.append(write)
        if self._on_ack is not None:
            self._on_ack(write)


def request_of(
    line: Decoded, offset_s: float = 0.0
) -> tuple[RequestRecord, AcknowledgedWrite | None]:
    """The record of one streamed request, and the acknowledged write it carries, if any.

    A read that found an acknowledged order gone (404, hash `MISSING`) stays a failed request
    and names the key (`missing_key`): a lost-write signal, never an acknowledgement.
    """
    at_s = line.at_s - offset_s
    missing = line.order_key if line.payload_hash == MISSING else ""
    ok = line.ok and not missing  # a 404 on an acknowledged key is never a success
    record = RequestRecord(at_s, line.name, ok, line.status, line.latency_ms, missing)
    if not line.order_key or missing:
        return record, None
    return record, AcknowledgedWrite(line.order_key, at_s, line.payload_hash)


@dataclass(frozen=True)
class RemoteWorkers:
    """Workers started elsewhere (other hosts, Kubernetes Jobs) that join the master.

    `bind_host` is where the master and the stream listen (e.g. 0.0.0.0); `advertise_host` is
    the address the workers reach them at.
    """

    count: int
    bind_host: str = "0.0.0.0"  # every interface: the workers are elsewhere
    advertise_host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("remote workers: count must be at least 1")


class LocustLoad:
    """LoadGenerator adapter: a headless Locust (or a master and `workers` workers)."""

    def __init__(  # noqa: PLR0913 - the knobs of a Locust run
        self,
        locustfile: Path,
        host: str,
        *,
        sink: RequestSink,
        log_dir: Path,
        on_ack: AckSink | None = None,
        workers: int = 0,
        remote: RemoteWorkers | None = None,
        stream: bool = True,
        wait_s: tuple[float, float] | None = None,
        timeouts_s: tuple[float, float] | None = None,
        stop_timeout_s: float = 10.0,
        extra_args: tuple[str, ...] = (),
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        if workers < 0:
            raise ValueError("workers must be >= 0 (0 = one standalone Locust process)")
        self.locustfile, self.host, self.workers = locustfile, host, workers
        self.remote = remote
        self._master_port = 0
        self._sink, self._on_ack, self._stream = sink, on_ack, stream
        self.log_dir, self.wait_s, self.stop_timeout_s = log_dir, wait_s, stop_timeout_s
        self.timeouts_s = timeouts_s  # (connect, read) per request; None: the locustfile's own
        self.extra_args = extra_args
        self.extra_env = dict(extra_env or {})  # more the locustfile reads, e.g. DRILLS_JOURNEYS
        self._server: StreamServer | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []
        self._roles: list[str] = []
        self._stopped = False

    # -- port --------------------------------------------------------------------------------
    def start(self, shape: ShapeSpec) -> None:
        """Start Locust following `shape`; returns once the processes are spawned."""
        if self._procs:
            raise DrillError("this Locust run was already started; create a new LocustLoad")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self._stream:
            bind = self.remote.bind_host if self.remote else "127.0.0.1"
            self._server = StreamServer(self._sink, self._on_ack, bind_host=bind)
        env = self._env(shape)
        if self.workers == 0 and self.remote is None:
            self._spawn("standalone", [*self._common(), "--headless", *self.extra_args], env)
            return
        bind = self.remote.bind_host if self.remote else "127.0.0.1"
        expected = self.workers + (self.remote.count if self.remote else 0)
        self._master_port = port = _free_port(bind)
        master = ["--master", "--headless", "--master-bind-host", bind]
        master += ["--master-bind-port", str(port), "--expect-workers", str(expected)]
        master += self.extra_args
        self._spawn("master", [*self._common(), *master], env)
        for index in range(self.workers):
            worker = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
            self._spawn(f"worker-{index}", [*self._common(), *worker], env)

    def remote_worker_command(self) -> tuple[dict[str, str], list[str]]:
        """Environment and command a worker on another host runs to join this run.

        Available after `start` with `remote` set. The worker needs the same locustfile (and
        the `drills` package for its stream hook); it streams wall time, which the harness maps
        onto its own clock.
        """
        if self.remote is None or self._server is None or not self._master_port:
            raise DrillError("no remote workers expected: start a LocustLoad with remote=...")
        advertise = self.remote.advertise_host
        env = {
            "DRILLS_STREAM_ADDR": f"{advertise}:{self._server.port}",
            "DRILLS_STREAM_CLOCK": "wall",
        }
        env.update(self._pacing_env())
        command = ["locust", "-f", self.locustfile.name, "--worker", "--master-host", advertise]
        command += ["--master-port", str(self._master_port)]
        return env, command

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after `stop_timeout_s`; drain the stream to EOF. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        for proc in self._procs:  # master (or standalone) first: it tells workers to quit
            _terminate(proc, self.stop_timeout_s)
        if self._server is not None:
            self._server.close(drain_timeout_s=self.stop_timeout_s)
        for log in self._logs:
            log.close()

    def wait(self, timeout_s: float) -> bool:
        """Wait (bounded) for Locust to exit on its own, e.g. when a shape with a duration ends."""
        for proc in self._procs:
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                return False
        return True

    def users(self) -> int:
        """Users running now, as the Locust processes last reported (0 without a stream)."""
        return self._server.users() if self._server else 0

    def acknowledged(self) -> list[AcknowledgedWrite]:
        """Every acknowledged write streamed so far."""
        return self._server.acknowledged() if self._server else []

    # -- extras ------------------------------------------------------------------------------
    def __enter__(self) -> LocustLoad:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stream_server(self) -> StreamServer | None:
        """The stream receiver (connection and record counts), None before start or unstreamed."""
        return self._server

    @property
    def pids(self) -> list[int]:
        """Process ids of every Locust process started (for checks that none is left)."""
        return [proc.pid for proc in self._procs]

    def check_running(self) -> None:
        """Raise LoadGeneratorDied when a Locust process exited on its own or garbled its stream.

        Quiet once `stop()` was called (stopping is not dying). The message names the process
        (role and pid), its exit status and the last lines of its log (stdout and stderr).
        """
        if self._stopped:
            return
        for role, proc, log in zip(self._roles, self._procs, self._logs, strict=True):
            if proc.poll() is not None:
                raise LoadGeneratorDied(
                    f"the load generator died: Locust ({role}, pid {proc.pid}) "
                    f"{_exit_status(proc.returncode)} while the drill needed its users; the "
                    f"tail of {log.name}:\n{_tail(Path(log.name))}"
                )
        server = self._server
        if server is not None and server.bad_lines:
            raise LoadGeneratorDied(
                f"the load generator's request stream is garbled: {server.bad_lines} line(s) "
                f"could not be read (first: {server.first_bad_line!r}), so requests went "
                "unrecorded; check that Locust and the harness run the same drills version"
            )

    def _common(self) -> list[str]:
        return ["-f", str(self.locustfile), "--host", self.host, "--loglevel", "WARNING"]

    def _env(self, shape: ShapeSpec) -> dict[str, str]:
        env = dict(os.environ)
        env["DRILLS_LOAD_SHAPE"] = shape.to_json()
        env.pop("DRILLS_STREAM_ADDR", None)
        if self._server is not None:
            env["DRILLS_STREAM_ADDR"] = f"127.0.0.1:{self._server.port}"  # local processes
        env.update(self._pacing_env())
        return env

    def _pacing_env(self) -> dict[str, str]:
        """What the locustfile reads: think time, per-request timeouts and `extra_env`."""
        env = dict(self.extra_env)
        if self.wait_s is not None:
            env["DRILLS_LOAD_WAIT_S"] = f"{self.wait_s[0]},{self.wait_s[1]}"
        if self.timeouts_s is not None:
            env["DRILLS_LOAD_TIMEOUTS_S"] = f"{self.timeouts_s[0]},{self.timeouts_s[1]}"
        return env

    def _spawn(self, role: str, args: list[str], env: dict[str, str]) -> None:
        log = (self.log_dir / f"locust-{role}.log").open("wb")
        self._logs.append(log)
        self._roles.append(role)
        command = [sys.executable, "-m", "locust", *args]
        self._procs.append(
            subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        )


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@functools.cache  # find_library runs ldconfig: once per process, not once per Locust
def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook that has the kernel SIGTERM the child when the harness dies.

    Locust runs in its own session (so a Ctrl-C reaches the harness first, which stops it in
    order); without this a harness killed outright (SIGKILL, OOM) would leave users hammering
    the service. The signal comes when the thread that started Locust ends, so start it from a
    thread that lives as long as the drill. Linux only (prctl PR_SET_PDEATHSIG); elsewhere
    None, and `stop()` remains the only way Locust ends.
    """
    name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    if name is None:
        return None
    prctl = ctypes.CDLL(name, use_errno=True).prctl  # looked up here, not in the child

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


def _exit_status(code: int | None) -> str:
    """`exited with status 3` or `was killed by SIGKILL (status -9)`."""
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name} (status {code})"
    return f"exited with status {code}"


def _tail(path: Path, lines: int = 15, max_bytes: int = 8192) -> str:
    """The last `lines` lines of a log, or a note that it is empty or unreadable."""
    try:
        with path.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - max_bytes))
            text = log.read().decode(errors="replace")
    except OSError as exc:
        return f"  (log unreadable: {exc})"
    kept = text.strip().splitlines()[-lines:]
    return "\n".join(f"  {line}" for line in kept) if kept else "  (the log is empty)"


def _terminate(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the whole session, in case anything was left
    proc.wait(timeout=timeout_s)


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.create_server((host, 0)) as probe:
        return int(probe.getsockname()[1])
