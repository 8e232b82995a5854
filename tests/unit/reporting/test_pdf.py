"""Finding the browser, its command line, and the DevTools exchange, without a real Chromium.

A fake browser (a Python script) speaks the DevTools protocol on fds 3/4 like Chromium does,
or hangs with a child process to show that a timeout kills the whole process group. The real
render is tests/unit/reporting/test_pdf_render.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from drills.reporting.chromium import FONTS_CONF
from drills.reporting.pdf import (
    BROWSER_NAMES,
    ENV_VAR,
    Browser,
    BrowserNotFound,
    PdfFailed,
    browser_command,
    find_browser,
    print_pdf,
)

FAKE_PDF = b"%PDF-1.4 fake\n%%EOF\n"

# Answers every command; fires the load event after Page.navigate; printToPDF returns FAKE_PDF.
SPEAKS = r"""
import base64, json, os, sys
reader, writer = os.fdopen(3, "rb", buffering=0), os.fdopen(4, "wb", buffering=0)
buf = b""
def send(obj): writer.write(json.dumps(obj).encode() + b"\0")
open(sys.argv[1], "w").write(" ".join(sys.argv[2:]))
while True:
    chunk = reader.read(65536)
    if not chunk: break
    buf += chunk
    while b"\0" in buf:
        raw, buf = buf.split(b"\0", 1)
        msg = json.loads(raw); method = msg["method"]; sid = msg.get("sessionId")
        result = {}
        if method == "Target.createTarget": result = {"targetId": "T1"}
        if method == "Target.attachToTarget": result = {"sessionId": "S1"}
        if method == "Page.navigate":
            result = {"frameId": "F1", **({"errorText": "net::ERR_FILE_NOT_FOUND"}
                                          if "missing" in msg["params"]["url"] else {})}
        if method == "Page.printToPDF":
            result = {"data": base64.b64encode(PDF).decode()}
        if method == "Browser.close": sys.exit(0)
        send({"id": msg["id"], "result": result, **({"sessionId": sid} if sid else {})})
        if method == "Page.navigate":
            send({"method": "Page.loadEventFired", "params": {}, "sessionId": sid})
"""

# Starts a child that would outlive it, writes its pid, then never answers.
HANGS = r"""
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import select; select.select([], [], [])"])
open(sys.argv[1], "w").write(str(child.pid))
import select; select.select([], [], [])
"""


def fake_browser(tmp_path: Path, body: str) -> Path:
    """An executable that runs `body` with its first argument a file it may write."""
    script = tmp_path / "fake_browser.py"
    script.write_text(f"PDF = {FAKE_PDF!r}\n{body}")
    exe = tmp_path / "chromium"
    exe.write_text(f'#!/bin/sh\nexec {sys.executable} {script} {tmp_path / "seen"} "$@"\n')
    exe.chmod(0o755)
    return exe


def _no_cache(env: Mapping[str, str]) -> Path | None:
    return None


def test_drills_chromium_wins_over_path_and_cache(tmp_path: Path) -> None:
    exe = fake_browser(tmp_path, SPEAKS)
    browser = find_browser(
        {ENV_VAR: str(exe)}, which=lambda name: "/usr/bin/chromium", cached=_no_cache
    )
    assert browser == Browser(exe, ENV_VAR)


def test_a_drills_chromium_that_is_not_executable_is_an_error_not_a_fallback(
    tmp_path: Path,
) -> None:
    with pytest.raises(BrowserNotFound, match=f"{ENV_VAR}=.*nothing-here is not an executable"):
        find_browser(
            {ENV_VAR: str(tmp_path / "nothing-here")},
            which=lambda name: "/usr/bin/chromium",
            cached=_no_cache,
        )


def test_path_is_searched_in_order_before_the_cache(tmp_path: Path) -> None:
    asked: list[str] = []

    def which(name: str) -> str | None:
        asked.append(name)
        return "/opt/google/chrome" if name == "google-chrome" else None

    browser = find_browser({}, which=which, cached=lambda env: tmp_path / "chromium")
    assert browser == Browser(Path("/opt/google/chrome"), "google-chrome on PATH")
    assert asked == ["chromium", "chromium-browser", "google-chrome"]


def test_the_cached_browser_comes_with_its_fontconfig(tmp_path: Path) -> None:
    (tmp_path / FONTS_CONF).write_text("<fontconfig/>")
    browser = find_browser({}, which=lambda name: None, cached=lambda env: tmp_path / "chromium")
    assert browser.path == tmp_path / "chromium"
    assert browser.source == "the drills cache"
    assert browser.env == {"FONTCONFIG_FILE": str(tmp_path / FONTS_CONF)}


def test_no_browser_says_the_three_ways_to_provide_one() -> None:
    with pytest.raises(BrowserNotFound) as caught:
        find_browser({}, which=lambda name: None, cached=_no_cache)
    text = str(caught.value)
    assert f"{ENV_VAR}=/path/to/chrome" in text
    assert all(name in text for name in BROWSER_NAMES)
    assert "make chromium" in text


@pytest.mark.parametrize("as_root", [True, False])
def test_command_is_headless_in_the_given_profile_with_devtools_on_a_pipe(
    tmp_path: Path, as_root: bool
) -> None:
    command = browser_command(Browser(Path("/x/chromium"), "test"), tmp_path, as_root=as_root)
    assert command[0] == "/x/chromium"
    assert command[-1] == "about:blank"
    for flag in ("--headless", "--remote-debugging-pipe", "--disable-background-networking"):
        assert flag in command
    assert f"--user-data-dir={tmp_path}" in command
    assert ("--no-sandbox" in command) is as_root


def test_print_pdf_drives_the_browser_and_writes_what_it_printed(tmp_path: Path) -> None:
    exe = fake_browser(tmp_path, SPEAKS)
    html = tmp_path / "report.html"
    html.write_text("<h1>hi</h1>")
    out = print_pdf(html, tmp_path / "report.pdf", browser=Browser(exe, "test"), timeout_s=20)
    assert out.read_bytes() == FAKE_PDF
    seen = (tmp_path / "seen").read_text()
    assert "--remote-debugging-pipe" in seen
    assert "--user-data-dir=" in seen
    assert not (tmp_path / "report.pdf.partial").exists()


def test_a_page_that_cannot_be_opened_fails_with_the_browsers_reason(tmp_path: Path) -> None:
    exe = fake_browser(tmp_path, SPEAKS)
    with pytest.raises(PdfFailed, match="ERR_FILE_NOT_FOUND"):
        print_pdf(tmp_path / "missing.html", tmp_path / "x.pdf", browser=Browser(exe, "t"))
    assert not (tmp_path / "x.pdf").exists()


def test_a_hanging_browser_times_out_and_leaves_no_process_behind(tmp_path: Path) -> None:
    exe = fake_browser(tmp_path, HANGS)
    html = tmp_path / "report.html"
    html.write_text("<h1>hi</h1>")
    clock = SystemClock()
    started = clock.now()
    with pytest.raises(PdfFailed, match="timed out"):
        print_pdf(html, tmp_path / "r.pdf", browser=Browser(exe, "t"), timeout_s=1.5)
    assert clock.now() - started < 15
    child = int((tmp_path / "seen").read_text())
    gone = wait_until(
        lambda: not _alive(child), clock=clock, timeout_s=10, poll_s=0.1, raise_on_timeout=False
    )
    assert gone.met, f"the fake browser's child {child} outlived the timeout"


def test_a_browser_that_cannot_start_is_a_pdf_failure(tmp_path: Path) -> None:
    not_exe = tmp_path / "chromium"
    not_exe.write_text("not a program")
    html = tmp_path / "report.html"
    html.write_text("<h1>hi</h1>")
    with pytest.raises(PdfFailed, match="cannot start"):
        print_pdf(html, tmp_path / "r.pdf", browser=Browser(not_exe, "t"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")  # a zombie is gone
