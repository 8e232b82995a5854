"""One container of a sandbox pod as a real OS process, supervised the way a kubelet does it.

`ContainerRunner` knows nothing of the API server: the process kubelet builds a `ContainerSpec`
from a pod's spec, starts a runner, and copies `runner.snapshot()` (shaped like one entry of a
pod's ``status.containerStatuses``) into the pod's status whenever ``on_change`` fires.

What it does, and the Kubernetes behaviour it follows:

- **Process**: ``argv`` runs in its own session and process group (``setsid``) with the spec's
  environment plus ``HOST=<pod IP>``; stdout and stderr append to one log file. Stopping a
  container signals the whole group, so nothing it forked is left behind.
- **Probes**: HTTP GET on ``<pod IP>:<port><path>``; a status in 200-399 is a success, anything
  else (or no answer within ``timeout_s``) a failure. Readiness flips ``ready`` after
  ``success_threshold`` successes / ``failure_threshold`` failures in a row. Liveness kills the
  container after ``failure_threshold`` failures (it is then restarted). Periods are plain
  seconds, so sub-second periods are allowed (Kubernetes' minimum is 1 s).
- **Restart policy Always** with exponential back-off: after the n-th failed start in a row the
  runner waits ``min(cap_s, base_s * 2**(n-1))`` in the waiting state ``CrashLoopBackOff``.
  A real kubelet uses base 10 s doubling up to a cap of 5 min, and forgets the back-off once a
  container ran 10 min without trouble; `BackOff()` has those defaults (`KUBERNETES_BACKOFF`)
  and the sandbox passes shorter ones so drills finish in seconds.
- **OOMKilled**: the kernel's memory cgroup is not available here, so the runner samples
  ``VmRSS`` in ``/proc/<pid>/status`` every ``memory_poll_s`` and SIGKILLs the group when it
  exceeds the limit; the container terminates with reason ``OOMKilled`` and exit code 137.
- **Graceful stop**: SIGTERM to the group, up to the grace period, then SIGKILL.

Pod IPs come from `PodIPs`: distinct loopback addresses 127.0.x.y (Linux routes the whole of
127.0.0.0/8 to ``lo``), so every pod listens on its own address and the same container port,
and Endpoints list real, distinct addresses as on a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import signal
import socket
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

from drills.core.clock import DrillClock, SystemClock
from drills.core.errors import ConfigError

__all__ = [
    "KUBERNETES_BACKOFF",
    "OOM_EXIT_CODE",
    "AddressBlock",
    "BackOff",
    "ContainerRunner",
    "ContainerSpec",
    "PodIPs",
    "Probe",
    "parse_memory",
    "rss_bytes",
]

OOM_EXIT_CODE = 137
_GROUP_KILL_WAIT_S = 5.0

EventSink = Callable[[str, str, str], None]
"""on_event(type, reason, message): type is "Normal" or "Warning", as in a Kubernetes Event."""


@dataclass(frozen=True)
class BackOff:
    """Exponential restart back-off: base_s doubling per failed start, capped at cap_s."""

    base_s: float = 10.0
    cap_s: float = 300.0
    reset_after_s: float = 600.0

    def delay_s(self, failures: int) -> float:
        """Seconds to wait before the restart that follows `failures` failed starts in a row."""
        if failures <= 0:
            return 0.0
        return float(min(self.cap_s, self.base_s * 2 ** (failures - 1)))


KUBERNETES_BACKOFF = BackOff()
"""The kubelet's real figures: 10 s, doubling, 5 min cap, reset after 10 min of running."""


@dataclass(frozen=True)
class Probe:
    """An HTTP GET probe, with the fields of a Kubernetes probe (periods in seconds)."""

    path: str
    port: int
    period_s: float = 10.0
    timeout_s: float = 1.0
    failure_threshold: int = 3
    success_threshold: int = 1
    initial_delay_s: float = 0.0


@dataclass(frozen=True)
class ContainerSpec:
    """What to run for one container and how to watch it."""

    name: str
    argv: tuple[str, ...]
    image: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    memory_limit_bytes: int | None = None
    readiness: Probe | None = None
    liveness: Probe | None = None
    termination_grace_s: float = 30.0


_MEMORY_UNITS = {
    "": 1,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([kMGT]i?|)$")


def parse_memory(quantity: str | int) -> int:
    """Bytes of a Kubernetes memory quantity such as ``512Mi``, ``1Gi``, ``128M`` or ``1000``."""
    if isinstance(quantity, int):
        return quantity
    match = _QUANTITY.match(quantity.strip())
    if match is None:
        raise ConfigError(
            f"memory quantity {quantity!r} is not understood; write e.g. 512Mi, 1Gi or 256M"
        )
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])


def rss_bytes(pid: int) -> int | None:
    """Resident set size of a process from /proc/<pid>/status, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


class AddressBlock:
    """A loopback block 127.0.<n>.0/24 that one sandbox's pods use and no other sandbox does.

    Two sandboxes on one machine (a developer's and a test's) must never hand out the same pod
    address: a crash-looping pod keeps its address without listening on it, so another
    sandbox's pod listening there would answer its readiness probe. Claiming takes an exclusive
    `flock` on `<lock_dir>/127.0.<n>.lock`; the kernel drops it when the process ends, so a
    killed sandbox never keeps its block.
    """

    def __init__(self, third_octet: int, handle: IO[str]) -> None:
        self.third_octet = third_octet
        self._handle: IO[str] | None = handle

    @classmethod
    def claim(
        cls, lock_dir: Path | None = None, *, first: int = 1, last: int = 127
    ) -> AddressBlock:
        """The first free block between 127.0.<first>.0 and 127.0.<last>.0."""
        folder = lock_dir or Path(tempfile.gettempdir()) / "drills-pod-addresses"
        folder.mkdir(parents=True, exist_ok=True)
        for third in range(first, last + 1):
            handle = (folder / f"127.0.{third}.lock").open("a", encoding="utf-8")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            return cls(third, handle)
        raise ConfigError(
            f"every pod address block 127.0.{first}-{last}.0/24 is held by a running sandbox; "
            "stop one (`drills sandbox down` in its project)"
        )

    def release(self) -> None:
        """Give the block back (also happens when the process ends); idempotent."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class PodIPs:
    """Distinct loopback addresses 127.0.x.y for pods, one per live pod.

    Addresses are handed out in a rotating order (a released one comes back only after the
    others), and an address whose `port` another socket already holds is skipped.
    """

    def __init__(self, *, first_third_octet: int = 1, last_third_octet: int = 255) -> None:
        """Hand out 127.0.<first_third_octet>.1 to 127.0.<last_third_octet>.254."""
        self._order = [
            f"127.0.{third}.{fourth}"
            for third in range(first_third_octet, last_third_octet + 1)
            for fourth in range(1, 255)
        ]
        self._cursor = 0
        self._taken: set[str] = set()

    def allocate(self, port: int | None = None) -> str:
        """A free address (free on `port` too, when given)."""
        for _ in range(len(self._order)):
            ip = self._order[self._cursor]
            self._cursor = (self._cursor + 1) % len(self._order)
            if ip not in self._taken and (port is None or _bindable(ip, port)):
                self._taken.add(ip)
                return ip
        raise ConfigError("every sandbox pod address is taken; delete pods or restart the sandbox")

    def release(self, ip: str) -> None:
        """Give an address back."""
        self._taken.discard(ip)


def _bindable(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


@dataclass
class _Exit:
    """How one run of the container ended."""

    exit_code: int
    reason: str
    started_at: str
    finished_at: str
    ran_s: float
    message: str = ""

    def terminated(self, container_id: str) -> dict[str, Any]:
        """The ``state.terminated`` block of a Kubernetes container status."""
        block: dict[str, Any] = {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "containerID": container_id,
        }
        if self.message:
            block["message"] = self.message
        return block


class ContainerRunner:
    """Runs one container with restart policy Always until `stop()`."""

    def __init__(  # noqa: PLR0913 - keyword-only collaborators of one container
        self,
        spec: ContainerSpec,
        *,
        pod_ip: str,
        log_path: Path,
        backoff: BackOff = KUBERNETES_BACKOFF,
        memory_poll_s: float = 0.2,
        clock: DrillClock | None = None,
        on_change: Callable[[], None] | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        """Prepare (not start) the container; call `start()` inside the event loop."""
        self.spec = spec
        self.pod_ip = pod_ip
        self.log_path = log_path
        self.backoff = backoff
        self.memory_poll_s = memory_poll_s
        self.clock = clock or SystemClock()
        self._on_change = on_change or (lambda: None)
        self._on_event = on_event or (lambda _type, _reason, _message: None)
        self.restart_count = 0
        self.ready = False
        self._state: dict[str, Any] = {"waiting": {"reason": "ContainerCreating"}}
        self._last_state: dict[str, Any] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._container_id = ""
        self._kill_reason = ""
        self._failures = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- public -------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """Process id of the running container, if one runs."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def start(self) -> None:
        """Begin supervising: spawn, probe, restart with back-off."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop for good: SIGTERM, wait up to the grace period, SIGKILL; no restart."""
        self._stopping.set()
        process = self._process
        if process is not None and process.returncode is None:
            self._event("Normal", "Killing", f"Stopping container {self.spec.name}")
            grace = self.spec.termination_grace_s if grace_s is None else grace_s
            await self._terminate(process, grace)
        if self._task is not None:
            await self._task
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def done(self) -> bool:
        """True once the runner has stopped for good."""
        return self._task is not None and self._task.done()

    def snapshot(self) -> dict[str, Any]:
        """This container's entry of ``status.containerStatuses``."""
        status: dict[str, Any] = {
            "name": self.spec.name,
            "image": self.spec.image,
            "imageID": "",
            "containerID": self._container_id,
            "ready": self.ready,
            "started": "running" in self._state,
            "restartCount": self.restart_count,
            "state": {key: dict(value) for key, value in self._state.items()},
            "lastState": {key: dict(value) for key, value in self._last_state.items()},
        }
        return status

    # -- supervision --------------------------------------------------------------------------

    async def _supervise(self) -> None:
        while not self._stopping.is_set():
            ended = await self._run_once()
            self._record_exit(ended)
            if self._stopping.is_set():
                break
            delay_s = self._next_delay(ended)
            self.restart_count += 1
            self._set_state(
                "waiting",
                {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {delay_s:g}s restarting failed "
                    f"container={self.spec.name}",
                },
            )
            self._event("Warning", "BackOff", "Back-off restarting failed container")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay_s)

    def _next_delay(self, ended: _Exit) -> float:
        if ended.ran_s >= self.backoff.reset_after_s:
            self._failures = 0
        self._failures += 1
        return self.backoff.delay_s(self._failures)

    def _record_exit(self, ended: _Exit) -> None:
        self.ready = False
        block = ended.terminated(self._container_id)
        if not self._stopping.is_set():
            self._last_state = {"terminated": block}
        self._set_state("terminated", block)

    async def _run_once(self) -> _Exit:
        started_s = self.clock.now()
        started_at = self._timestamp()
        self._kill_reason = ""
        try:
            process = await self._spawn()
        except OSError as exc:
            self._event("Warning", "Failed", f"Error: {exc}")
            return _Exit(128, "StartError", started_at, self._timestamp(), 0.0, str(exc))
        self._process = process
        if self._stopping.is_set():  # stop() came while the process was being created
            await self._terminate(process, self.spec.termination_grace_s)
        self._container_id = f"sandbox://{process.pid}"
        self._set_state("running", {"startedAt": started_at})
        self._event("Normal", "Started", f"Started container {self.spec.name}")
        watchers = self._watchers(process)
        code = await process.wait()
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        _signal_group(process.pid, signal.SIGKILL)
        return self._exit_of(code, started_at, self.clock.now() - started_s)

    def _exit_of(self, code: int, started_at: str, ran_s: float) -> _Exit:
        exit_code = 128 - code if code < 0 else code
        if self._kill_reason == "OOMKilled":
            return _Exit(OOM_EXIT_CODE, "OOMKilled", started_at, self._timestamp(), ran_s)
        reason = "Completed" if exit_code == 0 else "Error"
        return _Exit(exit_code, reason, started_at, self._timestamp(), ran_s)

    def _watchers(self, process: asyncio.subprocess.Process) -> list[asyncio.Task[None]]:
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self._watch_memory(process))]
        if self.spec.readiness is not None:
            tasks.append(loop.create_task(self._readiness(self.spec.readiness)))
        else:
            self._set_ready(ready=True)
        if self.spec.liveness is not None:
            tasks.append(loop.create_task(self._liveness(self.spec.liveness, process)))
        return tasks

    async def _spawn(self) -> asyncio.subprocess.Process:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONUNBUFFERED": "1"}
        env.update(self.spec.env)
        env["HOST"] = self.pod_ip
        if self.spec.image:
            env.setdefault("IMAGE", self.spec.image)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            return await asyncio.create_subprocess_exec(
                *self.spec.argv,
                env=env,
                cwd=self.spec.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    async def _terminate(self, process: asyncio.subprocess.Process, grace_s: float) -> None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), timeout=max(0.0, grace_s))
        except TimeoutError:
            _signal_group(process.pid, signal.SIGKILL)
            await asyncio.wait_for(process.wait(), timeout=_GROUP_KILL_WAIT_S)

    # -- watchers -----------------------------------------------------------------------------

    async def _watch_memory(self, process: asyncio.subprocess.Process) -> None:
        limit = self.spec.memory_limit_bytes
        if limit is None:
            return
        while process.returncode is None:
            rss = rss_bytes(process.pid)
            if rss is not None and rss > limit:
                self._kill_reason = "OOMKilled"
                self._event(
                    "Warning",
                    "OOMKilling",
                    f"Memory cgroup out of memory: killed {self.spec.name} "
                    f"(rss {rss // 1024} kB > limit {limit // 1024} kB)",
                )
                _signal_group(process.pid, signal.SIGKILL)
                return
            await asyncio.sleep(self.memory_poll_s)

    async def _readiness(self, probe: Probe) -> None:
        await asyncio.sleep(probe.initial_delay_s)
        successes = failures = 0
        while True:
            ok, detail = await self._probe(probe)
            successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
            if ok and successes >= probe.success_threshold:
                self._set_ready(ready=True)
            elif not ok and failures >= probe.failure_threshold:
                if self.ready:
                    self._event("Warning", "Unhealthy", f"Readiness probe failed: {detail}")
                self._set_ready(ready=False)
            await asyncio.sleep(probe.period_s)

    async def _liveness(self, probe: Probe, process: asyncio.subprocess.Process) -> None:
        await asyncio.sleep(probe.initial_delay_s)
        failures = 0
        while failures < probe.failure_threshold:
            await asyncio.sleep(probe.period_s)
            ok, detail = await self._probe(probe)
            failures = 0 if ok else failures + 1
        self._event("Warning", "Unhealthy", f"Liveness probe failed: {detail}")
        self._event(
            "Normal",
            "Killing",
            f"Container {self.spec.name} failed liveness probe, will be restarted",
        )
        self._set_ready(ready=False)
        await self._terminate(process, self.spec.termination_grace_s)

    async def _probe(self, probe: Probe) -> tuple[bool, str]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = f"http://{self.pod_ip}:{probe.port}{probe.path}"
        try:
            timeout = aiohttp.ClientTimeout(total=probe.timeout_s)
            async with self._session.get(url, timeout=timeout) as response:
                ok = 200 <= response.status < 400
                return ok, f"HTTP probe failed with statuscode: {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return False, f'Get "{url}": {type(exc).__name__} {exc}'

    # -- state --------------------------------------------------------------------------------

    def _set_ready(self, *, ready: bool) -> None:
        if self.ready != ready:
            self.ready = ready
            self._on_change()

    def _set_state(self, key: str, value: dict[str, Any]) -> None:
        self._state = {key: value}
        self._on_change()

    def _event(self, kind: str, reason: str, message: str) -> None:
        self._on_event(kind, reason, message)

    def _timestamp(self) -> str:
        return self.clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
