"""`drills report [RUN_ID] --allure`: the run's single-file Allure report, as Allure users open it.

After `drills report` re-rendered report.html, the Allure 2 command line (found as
`drills.cli.allure_tool` describes: DRILLS_ALLURE, PATH, the project's cache) turns the run's
`allure-results/` into `allure-report/index.html`, one self-contained page (RUN is
reports/<run-id>)::

    allure generate --single-file --clean -o RUN/allure-report RUN/allure-results

The report is generated with ``ALLURE_NO_ANALYTICS=true``: otherwise Allure 2 puts Google's
analytics script (an external `<script src>`) into the page and reports the generation to it;
evidence for an auditor must neither call out nor depend on the network.

Exit 2, with what to do, when there is no command line, no Java, no results, or the command
failed or ran past its time limit (its whole process group is killed then).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from drills.cli.allure_tool import AllureTool, find_allure, find_java, how_to_get
from drills.cli.evidence import LATEST
from drills.cli.paths import ProjectPaths
from drills.core.errors import ConfigError

__all__ = [
    "REPORT_DIR",
    "RESULTS_DIR",
    "add_allure_option",
    "generate_allure_report",
    "with_allure",
]

USAGE = 2
RESULTS_DIR = "allure-results"
REPORT_DIR = "allure-report"
GENERATE_TIMEOUT_S = 300.0
VERSION_TIMEOUT_S = 60.0
REAP_TIMEOUT_S = 10.0
# `--single-file` came with Allure 2.24; Allure 3 (npm) has another command line.
MIN_VERSION = (2, 24)
TAIL_LINES = 15

_Handler = Callable[[argparse.Namespace, ProjectPaths, Console], int]


def add_allure_option(report: argparse.ArgumentParser) -> None:
    """Add --allure to the `report` parser."""
    report.add_argument(
        "--allure",
        action="store_true",
        help="also generate the single-file Allure report (needs the Allure CLI and Java)",
    )


def with_allure(handler: _Handler) -> _Handler:
    """Wrap the `report` handler: after it, generate the Allure report when --allure was given.

    The exit code is the handler's when it failed, else the Allure step's. A run that does not
    exist was already reported by the handler.
    """

    def report(args: argparse.Namespace, paths: ProjectPaths, console: Console) -> int:
        code = handler(args, paths, console)
        run_dir = paths.reports / (args.run_id or LATEST)
        if not getattr(args, "allure", False) or not run_dir.is_dir():
            return code
        return code or generate_allure_report(run_dir, console)

    return report


@dataclass(frozen=True)
class _Outcome:
    returncode: int
    output: str
    timed_out: bool = False


def generate_allure_report(
    run_dir: Path,
    console: Console,
    *,
    env: Mapping[str, str] | None = None,
    timeout_s: float = GENERATE_TIMEOUT_S,
) -> int:
    """Generate `run_dir`/allure-report/index.html from `run_dir`/allure-results; 0 or 2."""
    env = dict(os.environ if env is None else env)
    results = run_dir.resolve() / RESULTS_DIR
    if not any(results.glob("*-result.json")):
        _error(
            console,
            f"no Allure results in {results}: the run was made without allure-pytest "
            "(install drills[report]; `drills run` then passes --alluredir)",
        )
        return USAGE
    try:
        tool = find_allure(env)
    except ConfigError as exc:
        _error(console, f"{exc}; {how_to_get(env)}")
        return USAGE
    if tool is None:
        _error(console, f"the Allure command line was not found; {how_to_get(env)}")
        return USAGE
    if find_java(env) is None:
        _error(
            console,
            f"Allure ({tool.path}) is a Java program and no Java was found: install Java 8 or "
            "later (e.g. `apt-get install default-jre-headless`) or set JAVA_HOME",
        )
        return USAGE
    problem = _unsupported(tool, env)
    if problem:
        _error(console, problem)
        return USAGE
    return _generate(tool, run_dir.resolve(), console, env, timeout_s)


def _generate(
    tool: AllureTool, run_dir: Path, console: Console, env: Mapping[str, str], timeout_s: float
) -> int:
    results, out = run_dir / RESULTS_DIR, run_dir / REPORT_DIR
    argv = [str(tool.path), "generate", "--single-file", "--clean", "-o", str(out), str(results)]
    done = _run(argv, {**env, "ALLURE_NO_ANALYTICS": "true"}, timeout_s)
    index = out / "index.html"
    if done.timed_out:
        _error(console, f"`allure generate` ran past {timeout_s:g} s and was stopped")
    elif done.returncode != 0 or not index.is_file():
        _error(console, f"`allure generate` ({tool.path}) failed, exit {done.returncode}:")
    else:
        console.print(f"allure: {index}", markup=False, highlight=False)
        return 0
    for line in done.output.splitlines()[-TAIL_LINES:]:
        console.print(f"  {line}", markup=False, highlight=False)
    return USAGE


def _unsupported(tool: AllureTool, env: Mapping[str, str]) -> str:
    """Why `tool` cannot make a single-file report ("" when it can or its version is unknown)."""
    done = _run([str(tool.path), "--version"], env, VERSION_TIMEOUT_S)
    match = re.search(r"\b(\d+)\.(\d+)(?:\.\d+)?\b", done.output)
    if done.returncode != 0 or match is None:
        return ""
    version = (int(match.group(1)), int(match.group(2)))
    if version[0] == MIN_VERSION[0] and version >= MIN_VERSION:
        return ""
    return (
        f"{tool.path} (from {tool.source}) is Allure {match.group(0)}; drills runs Allure 2, "
        f"{MIN_VERSION[0]}.{MIN_VERSION[1]} or later (`--single-file`): {how_to_get(env)}"
    )


def _run(argv: list[str], env: Mapping[str, str], timeout_s: float) -> _Outcome:
    """Run `argv` in a session of its own; on timeout or interrupt kill the whole group."""
    try:
        proc = subprocess.Popen(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        return _Outcome(127, f"cannot start {argv[0]}: {exc}")
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            output, _ = proc.communicate(timeout=REAP_TIMEOUT_S)
        except subprocess.TimeoutExpired:  # a process that left the group holds the pipe
            output = ""
            proc.wait()
        return _Outcome(proc.returncode, output, timed_out=True)
    finally:
        if proc.poll() is None:  # interrupted (Ctrl-C): leave nothing behind
            _kill_group(proc)
            proc.wait()
    return _Outcome(proc.returncode, output)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _error(console: Console, text: str) -> None:
    console.print(f"[red]error:[/] {escape(text)}", highlight=False)
