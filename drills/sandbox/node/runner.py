"""One container of a sandbox pod as a real OS process, supervised the way a kubelet does it.

`ContainerRunner` knows nothing of the API server: the node agent builds a `ContainerSpec` from
a pod's spec, starts a runner, and copies `runner.snapshot()` (shaped like one entry of a pod's
``status.containerStatuses``) into the pod's status whenever ``on_change`` fires.

What it does, and the Kubernetes behaviour it follows:

- **Process**: ``[*exec_prefix, *argv]`` runs in its own session and process group
  (``setsid``) with the spec's environment plus ``HOST=<pod IP>``. The pod network gives a
  prefix such as ``nsenter --net=/run/netns/<ns> --``; nsenter execs, so the pid is the
  program's own. Stopping a container signals the whole group, so nothing it forked is left.
- **Logs**: stdout and stderr come back through pipes and are written line by line, with a
  timestamp, to the run's log file (`drills.sandbox.node.logs.ContainerLog`); at a restart the
  finished run's file is kept as the previous log (``kubectl logs --previous``).
- **Probes**: HTTP GET on ``<pod IP>:<port><path>``; a status in 200-399 is a success, anything
  else (or no answer within ``timeout_s``) a failure. Readiness flips ``ready`` after
  ``success_threshold`` successes / ``failure_threshold`` failures in a row. Liveness kills the
  container after ``failure_threshold`` failures (it is then restarted). Periods are plain
  seconds, so sub-second periods are allowed (Kubernetes' minimum is 1 s).
- **Restart policy** (``Always``, ``OnFailure``, ``Never``) with exponential back-off: after
  the n-th failed start in a row the runner waits ``min(cap_s, base_s * 2**(n-1))`` in the
  waiting state ``CrashLoopBackOff``. A real kubelet uses base 10 s doubling up to a cap of
  5 min, and forgets the back-off once a container ran 10 min without trouble; `BackOff()` has
  those defaults (`KUBERNETES_BACKOFF`) and the sandbox passes shorter ones.
- **OOMKilled**: the kernel's memory cgroup is not used here, so the runner samples ``VmRSS``
  in ``/proc/<pid>/status`` every ``memory_poll_s`` and SIGKILLs the group when it exceeds the
  limit; the container terminates with reason ``OOMKilled`` and exit code 137.
- **Graceful stop**: SIGTERM to the group, up to the grace period, then SIGKILL (at once when
  the grace period is 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from drills.core.clock import DrillClock, SystemClock
from drills.core.errors import ConfigError
from drills.sandbox.node.logs import ContainerLog

__all__ = [
    "CONTAINER_ID_SCHEME",
    "KUBERNETES_BACKOFF",
    "OOM_EXIT_CODE",
    "BackOff",
    "ContainerRunner",
    "ContainerSpec",
    "Probe",
    "image_id",
    "parse_memory",
    "rss_bytes",
]

OOM_EXIT_CODE = 137
CONTAINER_ID_SCHEME = "drills-process"
"""Container IDs read ``drills-process://<pid>``, as containerd's read ``containerd://<id>``."""

_GROUP_KILL_WAIT_S = 5.0
_PIPE_DRAIN_S = 2.0
_READ_CHUNK = 64 * 1024

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
    restart_policy: str = "Always"


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


def image_id(image: str) -> str:
    """A stable stand-in for an image digest: ``<repository>@sha256:<hash of the name>``."""
    repository = image.split("@", 1)[0].rsplit(":", 1)[0] if image else ""
    digest = hashlib.sha256(image.encode()).hexdigest()
    return f"{repository}@sha256:{digest}" if image else ""


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
        }
        if container_id:
            block["containerID"] = container_id
        if self.message:
            block["message"] = self.message
        return block


class ContainerRunner:
    """Runs one container under its restart policy until `stop()`."""

    def __init__(  # noqa: PLR0913 - keyword-only collaborators of one container
        self,
        spec: ContainerSpec,
        *,
        pod_ip: str,
        log_path: Path,
        exec_prefix: Sequence[str] = (),
        backoff: BackOff = KUBERNETES_BACKOFF,
        memory_poll_s: float = 0.2,
        clock: DrillClock | None = None,
        on_change: Callable[[], None] | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        """Prepare (not start) the container; call `start()` inside the event loop."""
        self.spec = spec
        self.pod_ip = pod_ip
        self.exec_prefix = tuple(exec_prefix)
        self.backoff = backoff
        self.memory_poll_s = memory_poll_s
        self.clock = clock or SystemClock()
        self.log = ContainerLog(log_path, wall=self.clock.wall)
        self._on_change = on_change or (lambda: None)
        self._on_event = on_event or (lambda _type, _reason, _message: None)
        self.restart_count = 0
        self.ready = False
        self.started_wall: datetime | None = None
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
    def log_path(self) -> Path:
        """The current run's log file."""
        return self.log.path

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
        self.log.end_run()

    async def wait(self) -> None:
        """Return once the runner has stopped for good (by `stop()` or its restart policy)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    @property
    def done(self) -> bool:
        """True once the runner has stopped for good (stopped, or its policy ended it)."""
        return self._task is not None and self._task.done()

    def snapshot(self) -> dict[str, Any]:
        """This container's entry of ``status.containerStatuses``."""
        status: dict[str, Any] = {
            "name": self.spec.name,
            "image": self.spec.image,
            "imageID": image_id(self.spec.image),
            "ready": self.ready,
            "started": "running" in self._state,
            "restartCount": self.restart_count,
            "state": {key: dict(value) for key, value in self._state.items()},
            "lastState": {key: dict(value) for key, value in self._last_state.items()},
        }
        if self._container_id:
            status["containerID"] = self._container_id
        return status

    # -- supervision --------------------------------------------------------------------------

    async def _supervise(self) -> None:
        runs = 0
        while not self._stopping.is_set():
            # As the kubelet counts it: a restart is a new run, so the count rises (and the
            # run that ended becomes the previous log) when the next run starts.
            self.restart_count = max(0, runs)
            runs += 1
            ended = await self._run_once()
            self._record_exit(ended)
            if self._stopping.is_set() or not self._restarts_after(ended):
                break
            delay_s = self._next_delay(ended)
            message = f"back-off {delay_s:g}s restarting failed container={self.spec.name}"
            self._set_state("waiting", {"reason": "CrashLoopBackOff", "message": message})
            self._event("Warning", "BackOff", "Back-off restarting failed container")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay_s)

    def _restarts_after(self, ended: _Exit) -> bool:
        if self.spec.restart_policy == "Never":
            return False
        return self.spec.restart_policy != "OnFailure" or ended.exit_code != 0

    def _next_delay(self, ended: _Exit) -> float:
        if ended.ran_s >= self.backoff.reset_after_s:
            self._failures = 0
        self._failures += 1
        return self.backoff.delay_s(self._failures)

    def _record_exit(self, ended: _Exit) -> None:
        self.ready = False
        self.log.end_run()
        block = ended.terminated(self._container_id)
        if not self._stopping.is_set():
            self._last_state = {"terminated": block}
        self._set_state("terminated", block)

    async def _run_once(self) -> _Exit:
        started_s = self.clock.now()
        started_at = self._timestamp()
        self._kill_reason = ""
        self._announce_run()
        try:
            process = await self._spawn()
        except OSError as exc:
            self._event("Warning", "Failed", f"Error: {exc}")
            return _Exit(128, "StartError", started_at, self._timestamp(), 0.0, str(exc))
        self._process = process
        if self._stopping.is_set():  # stop() came while the process was being created
            await self._terminate(process, self.spec.termination_grace_s)
        self._container_id = f"{CONTAINER_ID_SCHEME}://{process.pid}"
        self.started_wall = self.clock.wall()
        self._set_state("running", {"startedAt": started_at})
        self._event("Normal", "Started", f"Started container {self.spec.name}")
        code = await self._wait_and_reap(process)
        return self._exit_of(code, started_at, self.clock.now() - started_s)

    def _announce_run(self) -> None:
        if self.spec.image:
            message = f'Container image "{self.spec.image}" already present on machine'
            self._event("Normal", "Pulled", message)
        self._event("Normal", "Created", f"Created container {self.spec.name}")

    async def _wait_and_reap(self, process: asyncio.subprocess.Process) -> int:
        loop = asyncio.get_running_loop()
        pumps = [
            loop.create_task(self._pump(process.stdout, "stdout")),
            loop.create_task(self._pump(process.stderr, "stderr")),
        ]
        watchers = self._watchers(process)
        code = await process.wait()
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        _signal_group(process.pid, signal.SIGKILL)
        _done, late = await asyncio.wait(pumps, timeout=_PIPE_DRAIN_S)
        for pump in late:  # a grandchild that left the group still holds the pipe
            pump.cancel()
        return code

    async def _pump(self, reader: asyncio.StreamReader | None, stream: str) -> None:
        if reader is None:
            return
        while chunk := await reader.read(_READ_CHUNK):
            self.log.write(stream, chunk)

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
        self.log.begin_run()
        return await asyncio.create_subprocess_exec(
            *self.exec_prefix,
            *self.spec.argv,
            env=env,
            cwd=self.spec.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )

    async def _terminate(self, process: asyncio.subprocess.Process, grace_s: float) -> None:
        if grace_s > 0:
            _signal_group(process.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.wait()), timeout=grace_s)
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGKILL)
            await asyncio.wait_for(asyncio.shield(process.wait()), timeout=_GROUP_KILL_WAIT_S)

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
