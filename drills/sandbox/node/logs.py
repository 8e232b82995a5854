"""Container logs kept as a CRI runtime keeps them, read back as a kubelet serves them.

Each run of a container writes one file, ``<ns>_<pod>_<container>.log``; when the container is
restarted the file of the run that ended becomes ``<ns>_<pod>_<container>.previous.log``, which
is what ``kubectl logs --previous`` shows. Every line of a file is in the CRI logging format::

    2026-01-01T12:00:00.123456000Z stdout F the line as the program wrote it

(timestamp, stream, ``F`` for a full line or ``P`` for a piece of a line longer than
`MAX_LINE_BYTES`, then the content without its newline). Keeping the timestamp per line is what
makes ``--timestamps`` and ``--since`` possible.

`ContainerLog` is the writing side, fed by the runner from the container's stdout and stderr
pipes inside the event loop; `LogOptions`, `parse_line` and `render` are the pure reading side
that the kubelet API uses.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "MAX_LINE_BYTES",
    "ContainerLog",
    "LogLine",
    "LogOptions",
    "format_timestamp",
    "parse_line",
    "render",
    "select",
]

MAX_LINE_BYTES = 16 * 1024
"""Longest piece written as one log line; containerd splits at the same 16 KiB."""

_STAMP_WIDTH = len("2006-01-02T15:04:05.000000000Z")


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 with nine fractional digits and ``Z``, the fixed width the kubelet prints."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}000Z"


def _parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


@dataclass(frozen=True)
class LogLine:
    """One line of a CRI log file."""

    timestamp: datetime
    stream: str
    partial: bool
    content: bytes

    def output(self, *, timestamps: bool) -> bytes:
        """The bytes ``kubectl logs`` prints for this line."""
        prefix = (format_timestamp(self.timestamp) + " ").encode() if timestamps else b""
        return prefix + self.content + (b"" if self.partial else b"\n")


def parse_line(raw: bytes) -> LogLine | None:
    """Decode one line of a CRI log file (without its newline); None when it is malformed."""
    parts = raw.split(b" ", 3)
    if len(parts) < 3 or len(parts[0]) != _STAMP_WIDTH or parts[2] not in (b"F", b"P"):
        return None
    try:
        moment = _parse_timestamp(parts[0].decode())
    except ValueError:
        return None
    content = parts[3] if len(parts) == 4 else b""
    return LogLine(moment, parts[1].decode(), parts[2] == b"P", content)


@dataclass(frozen=True)
class LogOptions:
    """The query of ``GET /containerLogs``: what ``kubectl logs`` asks for."""

    follow: bool = False
    previous: bool = False
    tail_lines: int | None = None
    limit_bytes: int | None = None
    timestamps: bool = False
    since: datetime | None = None


def select(lines: Iterable[LogLine], options: LogOptions) -> list[LogLine]:
    """The lines to show: those at or after `since`, then only the last `tail_lines` of them."""
    chosen = [line for line in lines if options.since is None or line.timestamp >= options.since]
    if options.tail_lines is not None:
        chosen = chosen[-options.tail_lines :] if options.tail_lines > 0 else []
    return chosen


def render(data: bytes, options: LogOptions) -> bytes:
    """What ``kubectl logs`` prints for the file contents `data` (no follow), limit applied."""
    lines = [line for raw in data.splitlines() if (line := parse_line(raw)) is not None]
    out = b"".join(line.output(timestamps=options.timestamps) for line in select(lines, options))
    return out if options.limit_bytes is None else out[: options.limit_bytes]


class ContainerLog:
    """The log files of one container: the running (or last) run and the one before it.

    Writes happen in the event loop; `changed` is an event set at the next write or at the
    end of a run, so a follower reads to the end of the file, then waits on it.
    """

    def __init__(self, path: Path, *, wall: Callable[[], datetime]) -> None:
        """Files at `path` and its ``.previous.log`` sibling; `wall` stamps each line."""
        self.path = path
        self.previous_path = path.with_name(path.name.removesuffix(".log") + ".previous.log")
        self._wall = wall
        self._file: BinaryIO | None = None
        self._pending: dict[str, bytearray] = {}
        self.runs = 0
        self._changed = asyncio.Event()

    @property
    def active(self) -> bool:
        """True while a run is writing to `path`."""
        return self._file is not None

    @property
    def changed(self) -> asyncio.Event:
        """Set at the next write or run end (take it before reading, then wait on it)."""
        return self._changed

    def begin_run(self) -> None:
        """Start a run's file; the file of the run before becomes the previous log."""
        self.end_run()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.runs > 0 and self.path.exists():
            os.replace(self.path, self.previous_path)
        elif self.runs == 0:
            self.previous_path.unlink(missing_ok=True)  # a former pod of the same name
        self._file = self.path.open("wb", buffering=0)
        self.runs += 1
        self._notify()

    def write(self, stream: str, data: bytes) -> None:
        """Append output of `stream` (``stdout`` or ``stderr``): whole lines, long ones split."""
        buffer = self._pending.setdefault(stream, bytearray())
        buffer += data
        stamp = format_timestamp(self._wall()).encode()
        out: list[bytes] = []
        while (end := buffer.find(b"\n")) != -1:
            out.append(_line(stamp, stream, b"F", bytes(buffer[:end])))
            del buffer[: end + 1]
        while len(buffer) >= MAX_LINE_BYTES:
            out.append(_line(stamp, stream, b"P", bytes(buffer[:MAX_LINE_BYTES])))
            del buffer[:MAX_LINE_BYTES]
        self._emit(out)

    def end_run(self) -> None:
        """Write what is left of unfinished lines and close the run's file; idempotent."""
        if self._file is None:
            return
        stamp = format_timestamp(self._wall()).encode()
        rest = [_line(stamp, name, b"F", bytes(buf)) for name, buf in self._pending.items() if buf]
        self._pending.clear()
        self._emit(rest)
        self._file.close()
        self._file = None
        self._notify()

    def _emit(self, lines: list[bytes]) -> None:
        if lines and self._file is not None:
            self._file.write(b"".join(lines))
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def _line(stamp: bytes, stream: str, tag: bytes, content: bytes) -> bytes:
    return b"%s %s %s %s\n" % (stamp, stream.encode(), tag, content)
