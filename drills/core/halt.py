"""The halt lever: a file whose presence stops every running drill of an environment.

`drills halt` writes the file (default `<root>/.drills/halt/<env>`; the profile's
`[safety] halt_file` may put it on a shared filesystem, so an operator on another host can pull
it with `drills halt` there, or with anything that creates the file). Every run polls it from a
`HaltWatcher` thread every `HALT_POLL_S`; the plugin wires a pulled lever to `Drill.abort`, like
the kill switch, so the drill's next guarded wait, sleep or step raises DrillAborted, its
rollbacks run and it ends ERROR "halted by <operator>@<host> at <time>: <reason>". `drills run`
refuses to start while the file exists; `drills halt --clear` removes it.

Any file at the path is a pulled lever: a JSON body (written here) names who, where, when and
why; another body (`touch`, `echo stop >`) still halts, with its text as the reason.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from drills.core.errors import ConfigError
from drills.core.runlock import RunLock, lock_path, safe_name

__all__ = [
    "HALT_POLL_S",
    "EnvironmentHalted",
    "HaltNotice",
    "HaltWatcher",
    "clear_halt",
    "halt_path",
    "new_notice",
    "pull_halt",
    "read_halt",
    "refuse_to_start",
]

HALT_POLL_S = 0.5  # the 5 s contract: half a second to notice, the drill's poll, its rollbacks


class EnvironmentHalted(ConfigError):
    """The environment's halt lever is pulled; nothing starts until it is cleared."""


@dataclass(frozen=True)
class HaltNotice:
    """Who pulled the lever, where, when (UTC wall time, ISO 8601) and why."""

    operator: str
    host: str
    at: str
    reason: str
    env: str = ""

    def describe(self) -> str:
        """`halted by alice@ops1 at 2026-12-04T21:00:00+00:00: database looks wrong`."""
        return f"halted by {self.operator}@{self.host} at {self.at}: {self.reason}"

    @classmethod
    def parse(cls, text: str, *, modified: datetime) -> HaltNotice:
        """Read a halt file's body; a body that is not ours still halts, its text the reason."""
        try:
            data = json.loads(text)
            return cls(
                str(data["operator"]),
                str(data["host"]),
                str(data["at"]),
                str(data.get("reason") or "no reason given"),
                str(data.get("env", "")),
            )
        except (ValueError, KeyError, TypeError):
            reason = " ".join(text.split())[:200] or "halt file present"
            return cls("unknown", "unknown", modified.isoformat(timespec="seconds"), reason)


def halt_path(root: Path, env: str, configured: Path | None) -> Path:
    """The profile's `[safety] halt_file`, or `<root>/.drills/halt/<env>`."""
    return configured if configured is not None else root / ".drills" / "halt" / safe_name(env)


def pull_halt(path: Path, notice: HaltNotice) -> None:
    """Write the halt file atomically (readers never see half a notice) and fsync it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(notice), sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_halt(path: Path) -> HaltNotice | None:
    """The notice at `path`, or None when the lever is not pulled."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return HaltNotice("unknown", "unknown", "?", f"{path} is a directory")
    return HaltNotice.parse(text, modified=modified)


def clear_halt(path: Path) -> HaltNotice | None:
    """Remove the lever; returns the notice that was there (None: it was not pulled)."""
    notice = read_halt(path)
    path.unlink(missing_ok=True)
    return notice


def refuse_to_start(root: Path, env: str, halt_file: Path | None) -> None:
    """Raise EnvironmentHalted or EnvironmentBusy when a run against `env` may not start."""
    path = halt_path(root, env, halt_file)
    notice = read_halt(path)
    if notice is not None:
        raise EnvironmentHalted(
            f"environment '{env}' is halted: {notice.describe()} (halt file {path}); nothing "
            f"starts until it is cleared with `drills halt --clear --env {env}`"
        )
    RunLock(lock_path(root, env), env).refuse_if_held()


def new_notice(operator: str, reason: str, env: str, at: datetime) -> HaltNotice:
    """A notice from this host."""
    return HaltNotice(operator, socket.gethostname(), at.isoformat(timespec="seconds"), reason, env)


class HaltWatcher:
    """Polls the halt file from a daemon thread; calls `on_halt(notice)` once when it appears."""

    def __init__(
        self,
        path: Path,
        on_halt: Callable[[HaltNotice], None],
        *,
        poll_s: float = HALT_POLL_S,
    ) -> None:
        if poll_s <= 0:
            raise ValueError("poll_s must be above zero")
        self.path, self.poll_s, self._on_halt = path, poll_s, on_halt
        self.notice: HaltNotice | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> HaltNotice | None:
        """Look once; returns the notice when the lever is (now or already) pulled."""
        if self.notice is None:
            notice = read_halt(self.path)
            if notice is not None:
                self.notice = notice
                self._on_halt(notice)
        return self.notice

    def start(self) -> None:
        """Poll every `poll_s` until `stop()` or the lever is pulled."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="drills-halt", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop polling; idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.poll() is not None:
                return
            self._stop.wait(self.poll_s)
