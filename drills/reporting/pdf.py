"""Print report.html to PDF with a headless Chromium (`drills report --pdf`).

The browser is, in this order: the file named by ``$DRILLS_CHROMIUM``; ``chromium``,
``chromium-browser``, ``google-chrome`` or ``google-chrome-stable`` on PATH; the one
``make chromium`` (``python -m drills.reporting.chromium``) fetched into the cache.

It runs headless in a new empty profile directory and is driven over the DevTools protocol on
a pipe (``--remote-debugging-pipe``, file descriptors 3 and 4): open the page, wait for its load
event, ``Page.printToPDF`` with the page's own CSS page size, backgrounds and no header or
footer. (The one-shot ``--print-to-pdf`` switch hangs in the headless shell build the cache
holds; the protocol works in every Chromium since 2019 and reports load errors.) The browser
runs in a process group of its own, which is killed on a timeout or any error, so no renderer
is left behind.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from drills.core.clock import DrillClock, SystemClock
from drills.core.errors import ConfigError, DrillError
from drills.reporting.chromium import FONTS_CONF, cached_chromium

__all__ = [
    "BROWSER_NAMES",
    "ENV_VAR",
    "Browser",
    "BrowserNotFound",
    "PdfFailed",
    "browser_command",
    "find_browser",
    "print_pdf",
]

ENV_VAR = "DRILLS_CHROMIUM"
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DEFAULT_TIMEOUT_S = 60.0
# Printed to A4 by the report's @page rule; these only apply when a page sets none.
_PRINT_PARAMS = {
    "printBackground": True,
    "preferCSSPageSize": True,
    "displayHeaderFooter": False,
}
_OPEN_DETAILS = "document.querySelectorAll('details').forEach(d => { d.open = true; })"


class BrowserNotFound(ConfigError):
    """No headless Chromium could be found; the message says the three ways to provide one."""


class PdfFailed(DrillError):
    """The browser started but the page could not be printed (timeout, crash, load error)."""


@dataclass(frozen=True)
class Browser:
    """A Chromium to run: its path, where it was found, environment it needs beside ours."""

    path: Path
    source: str
    env: Mapping[str, str] = field(default_factory=dict)


def find_browser(
    env: Mapping[str, str] | None = None,
    *,
    which: Callable[[str], str | None] = shutil.which,
    cached: Callable[[Mapping[str, str]], Path | None] = cached_chromium,
) -> Browser:
    """The browser to print with (see the module's docstring for the order)."""
    env = os.environ if env is None else env
    named = env.get(ENV_VAR, "").strip()
    if named:
        path = Path(named).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BrowserNotFound(f"{ENV_VAR}={named} is not an executable file")
        return Browser(path, ENV_VAR)
    for name in BROWSER_NAMES:
        found = which(name)
        if found:
            return Browser(Path(found), f"{name} on PATH")
    binary = cached(env)
    if binary is not None:
        conf = binary.parent / FONTS_CONF
        extra = {"FONTCONFIG_FILE": str(conf)} if conf.is_file() else {}
        return Browser(binary, "the drills cache", extra)
    raise BrowserNotFound(
        "no headless Chromium found for the PDF. Provide one of: "
        f"(1) {ENV_VAR}=/path/to/chrome; "
        f"(2) {', '.join(BROWSER_NAMES)} on PATH (e.g. `apt-get install chromium`); "
        "(3) `make chromium` (python -m drills.reporting.chromium) to fetch a headless "
        "Chromium from the npm registry into ~/.cache/drills/chromium"
    )


def browser_command(browser: Browser, profile_dir: Path, *, as_root: bool) -> list[str]:
    """The command line: headless, a throwaway profile, no network chatter, DevTools on a pipe.

    ``--no-sandbox`` only as root, where Chromium refuses to start with its sandbox.
    """
    command = [
        str(browser.path),
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--mute-audio",
        f"--user-data-dir={profile_dir}",
        "--remote-debugging-pipe",
    ]
    if as_root:
        command.append("--no-sandbox")
    command.append("about:blank")
    return command


def print_pdf(
    html: Path,
    out: Path,
    *,
    browser: Browser | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    clock: DrillClock | None = None,
) -> Path:
    """Print `html` to `out` (written atomically) and return `out`.

    Raises BrowserNotFound when no browser is given or found, PdfFailed when printing fails.
    """
    browser = browser or find_browser()
    clock = clock or SystemClock()
    deadline = clock.now() + timeout_s
    with tempfile.TemporaryDirectory(prefix="drills-pdf-") as tmp:
        profile = Path(tmp) / "profile"
        command = browser_command(browser, profile, as_root=os.geteuid() == 0)
        log_path = Path(tmp) / "browser.log"
        with log_path.open("wb") as log, _launched(command, browser.env, log) as session:
            try:
                data = _print(session, html.resolve().as_uri(), lambda: deadline - clock.now())
            except PdfFailed as exc:
                raise PdfFailed(f"{exc}{_log_tail(log_path)}") from exc
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(data)
    partial.replace(out)
    return out


class _Session:
    """DevTools protocol over the pipe: JSON messages separated by NUL bytes."""

    def __init__(self, writer: IO[bytes], reader: int) -> None:
        self._writer = writer
        self._reader = reader
        self._buffer = b""
        self._next_id = 0

    def send(self, method: str, params: Mapping[str, Any] | None = None, sid: str = "") -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if sid:
            message["sessionId"] = sid
        try:
            self._writer.write(json.dumps(message).encode("utf-8") + b"\0")
            self._writer.flush()
        except BrokenPipeError as exc:
            raise PdfFailed(f"the browser exited before {method}") from exc
        return self._next_id

    def call(
        self,
        method: str,
        params: Mapping[str, Any] | None,
        sid: str,
        remaining: Callable[[], float],
    ) -> dict[str, Any]:
        sent = self.send(method, params, sid)
        reply = self.wait(lambda m: m.get("id") == sent, method, remaining)
        if "error" in reply:
            raise PdfFailed(f"{method} failed: {reply['error'].get('message', reply['error'])}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def wait(
        self, wanted: Callable[[dict[str, Any]], bool], what: str, remaining: Callable[[], float]
    ) -> dict[str, Any]:
        while True:
            for message in self._messages():
                if wanted(message):
                    return message
            left = remaining()
            if left <= 0 or not select.select([self._reader], [], [], left)[0]:
                raise PdfFailed(f"timed out waiting for {what}")
            chunk = os.read(self._reader, 1 << 20)
            if not chunk:
                raise PdfFailed(f"the browser exited while waiting for {what}")
            self._buffer += chunk

    def _messages(self) -> Iterator[dict[str, Any]]:
        while b"\0" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\0", 1)
            yield json.loads(raw)


def _print(session: _Session, url: str, remaining: Callable[[], float]) -> bytes:
    target = session.call("Target.createTarget", {"url": "about:blank"}, "", remaining)
    attached = session.call(
        "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, "", remaining
    )
    sid = str(attached["sessionId"])
    session.call("Page.enable", None, sid, remaining)
    navigated = session.call("Page.navigate", {"url": url}, sid, remaining)
    if navigated.get("errorText"):
        raise PdfFailed(f"the browser could not open {url}: {navigated['errorText']}")
    session.wait(
        lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == sid,
        "the page to load",
        remaining,
    )
    # Paper cannot be clicked: print the folded sections (how to read, controller settings) open.
    session.call("Runtime.evaluate", {"expression": _OPEN_DETAILS}, sid, remaining)
    printed = session.call("Page.printToPDF", _PRINT_PARAMS, sid, remaining)
    with contextlib.suppress(OSError):  # it may already be on its way out
        session.send("Browser.close")
    return base64.b64decode(printed["data"])


@contextlib.contextmanager
def _launched(
    command: Sequence[str], extra_env: Mapping[str, str], log: IO[bytes]
) -> Iterator[_Session]:
    """Start the browser in its own process group with the pipe on fds 3/4; kill it after."""
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    def pipes_on_3_and_4() -> None:
        # In the child. Copy both ends above 10 first, so neither is clobbered by the other's
        # dup2 and neither copy is 3 or 4 itself (dup2 onto itself would keep close-on-exec).
        reads = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        writes = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.dup2(reads, 3)  # inheritable: these two survive the exec
        os.dup2(writes, 4)

    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env={**os.environ, **extra_env},
            # Our descriptors are not inheritable (PEP 446); the dup2 copies on 3 and 4 are, and
            # close_fds would close them: they are made in the child, after the parent's checks.
            close_fds=False,
            preexec_fn=pipes_on_3_and_4,  # only dup/dup2 in the child; the CLI is single-threaded
            start_new_session=True,
        )
    except OSError as exc:
        for fd in (to_browser_r, to_browser_w, from_browser_r, from_browser_w):
            os.close(fd)
        raise PdfFailed(f"cannot start {command[0]}: {exc}") from exc
    os.close(to_browser_r)
    os.close(from_browser_w)
    writer = os.fdopen(to_browser_w, "wb")
    try:
        yield _Session(writer, from_browser_r)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
    finally:
        with contextlib.suppress(OSError):
            writer.close()
        os.close(from_browser_r)
        _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the browser and every process it started (its group), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    return ("\nbrowser output (last lines):\n  " + "\n  ".join(tail)) if tail else ""
