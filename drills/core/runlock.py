"""One run at a time per environment: a lock file under `.drills/locks/`, held with flock.

A run (`drills run`, a certification proctor, or pytest with the plugin selecting drills) holds
`<root>/.drills/locks/<env>.lock` with `fcntl.flock` for its whole life. The kernel drops a flock
when its process dies, however it dies, so a SIGKILLed run leaves a free lock: the next run takes
it over with no manual step. The file's JSON body (pid, host, start time, drills, command) is
only for the refusal message, and for one more check: a free flock whose body names a process
that is still alive on this host, with the same boot and process start time as the one that
wrote it, is not taken over. That process wrote the body under the lock and should still hold
it, so flock is not honoured here (some network filesystems) or the lock file was replaced
under it; refusing is the safe side, and the message says how to clear it. A body naming a pid
that is gone, or that now belongs to another process (pid reused: its start time differs), or
a body from a previous boot, is stale and taken over.

The lock is per checkout: two operators on two hosts, each with a clone, do not see each
other's lock (the halt file, `drills.core.halt`, can be shared; a shared lock is not built).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

from drills.core.errors import ConfigError

__all__ = [
    "EnvironmentBusy",
    "LockHolder",
    "RunLock",
    "lock_path",
    "process_identity",
    "safe_name",
]

_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_OPEN_ATTEMPTS = 3  # the lock file replaced between open and flock: try again, bounded


def safe_name(env: str) -> str:
    """`env` as a file name: anything but letters, digits, `.`, `_` and `-` becomes `_`."""
    return _SAFE.sub("_", env)


def lock_path(root: Path, env: str) -> Path:
    """The lock file of environment `env` under the project root."""
    return root / ".drills" / "locks" / f"{safe_name(env)}.lock"


def process_identity(pid: int) -> tuple[str, str]:
    """(boot id, start time in clock ticks) of `pid`; ("", "") where /proc cannot tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return "", ""
    fields = stat.rsplit(")", 1)[-1].split()
    return boot, fields[19] if len(fields) > 19 else ""  # field 22 of proc(5): starttime


class EnvironmentBusy(ConfigError):
    """Another run holds the environment's lock; the message names it and what to do."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last wrote) a run lock."""

    env: str
    pid: int
    host: str = field(default_factory=socket.gethostname)
    started_at: str = ""
    drills: tuple[str, ...] = ()
    command: str = ""
    boot_id: str = ""
    proc_start: str = ""

    @classmethod
    def of_this_process(
        cls, env: str, *, started_at: str, drills: tuple[str, ...], command: str
    ) -> LockHolder:
        """The body this process writes when it takes the lock."""
        boot, start = process_identity(os.getpid())
        return cls(env, os.getpid(), socket.gethostname(), started_at, drills, command, boot, start)

    def to_json(self) -> str:
        """The lock file's body."""
        return json.dumps({**asdict(self), "drills": list(self.drills)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, env: str) -> LockHolder | None:
        """Parse a body; None when it is empty or not ours (a torn write, a hand edit)."""
        try:
            data = json.loads(text)
            return cls(
                env=str(data.get("env", env)),
                pid=int(data["pid"]),
                host=str(data.get("host", "")),
                started_at=str(data.get("started_at", "")),
                drills=tuple(str(d) for d in data.get("drills", [])),
                command=str(data.get("command", "")),
                boot_id=str(data.get("boot_id", "")),
                proc_start=str(data.get("proc_start", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def describe(self) -> str:
        """`pid 42 (drills run pod-kill, started 2026-...Z on host h)`."""
        what = f"drills run {' '.join(self.drills)}" if self.drills else "drills run"
        return f"pid {self.pid} ({what}, started {self.started_at or '?'} on host {self.host})"

    def still_running_here(self) -> bool:
        """True when the writer of this body is alive on this host (same boot, same process)."""
        if self.host != socket.gethostname() or self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # alive, owned by someone else
        boot, start = process_identity(self.pid)
        if not boot or not self.boot_id:
            return True  # cannot tell a reused pid: assume the writer, refuse (safe side)
        return (boot, start) == (self.boot_id, self.proc_start)


class RunLock:
    """The run lock of one environment; `acquire` for the run's life, `release` at its end."""

    def __init__(self, path: Path, env: str) -> None:
        self.path, self.env = path, env
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, holder: LockHolder) -> None:
        """Take the lock and write `holder` into it; raise EnvironmentBusy naming the holder."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(_OPEN_ATTEMPTS):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not self._try_flock(fd, fcntl.LOCK_EX):
                previous = self._read(fd)
                os.close(fd)
                raise self._busy(previous)
            if self._same_file(fd):
                break
            os.close(fd)  # replaced under us: lock the file that is there now
        else:
            raise ConfigError(f"{self.path} keeps being replaced; is another tool deleting it?")
        previous = self._read(fd)
        if previous is not None and previous.still_running_here():
            os.close(fd)
            raise self._busy(previous, flock_free=True)
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.to_json().encode("utf-8"), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Empty the body and drop the lock (the file stays: unlinking it would race)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor drops the flock

    def holder(self) -> LockHolder | None:
        """Who holds the lock now, without taking it; None when it is free or stale."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            body = self._read(fd)
            if not self._try_flock(fd, fcntl.LOCK_SH):
                return body or LockHolder(self.env, 0, host="?")
            return body if body is not None and body.still_running_here() else None
        finally:
            os.close(fd)

    def refuse_if_held(self) -> None:
        """Raise EnvironmentBusy when another live run holds the lock."""
        holder = self.holder()
        if holder is not None:
            raise self._busy(holder, flock_free=not self._flock_held())

    def _flock_held(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            return not self._try_flock(fd, fcntl.LOCK_SH)
        finally:
            os.close(fd)

    @staticmethod
    def _try_flock(fd: int, kind: int) -> bool:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _same_file(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def _read(self, fd: int) -> LockHolder | None:
        size = os.fstat(fd).st_size
        text = os.pread(fd, min(size, 65536), 0).decode("utf-8", "replace") if size else ""
        return LockHolder.from_json(text, self.env) if text.strip() else None

    def _busy(self, holder: LockHolder | None, *, flock_free: bool = False) -> EnvironmentBusy:
        who = holder.describe() if holder is not None else "another process"
        message = (
            f"environment '{self.env}' is in use by {who}; wait for it or stop it with "
            f"`drills halt --env {self.env}`"
        )
        if flock_free:
            message += (
                f". That process holds no lock on {self.path} although it wrote it (does this "
                "filesystem honour flock?); if it is not running drills, delete that file"
            )
        return EnvironmentBusy(message)
