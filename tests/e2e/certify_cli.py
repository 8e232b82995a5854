"""What the scripted trainees of the practical e2e tests share: the real CLI and the grades.

A practical's module runs on the sandbox the drill modules share (tests/e2e/conftest.py, whose
project holds the practicals too) and must leave it as it found it. It plays trainees through
`drills certify` (`certify`, `start_practical`), with the notice and post-mortem they file
(`notice`, `postmortem`), and reads the grade it wrote (`grade_of`, `criteria`, `verdicts`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from drills.core.clock import SystemClock
from tests.e2e.drill_cli import REPO

__all__ = [
    "abort_left_practical",
    "certify",
    "criteria",
    "grade_of",
    "grades_of",
    "kubectl_as",
    "notice",
    "now",
    "postmortem",
    "printed",
    "start_practical",
    "verdicts",
    "write",
]


def abort_left_practical(root: Path) -> str:
    """`drills certify abort` when a test ended with a practical still running; what it said.

    A test that fails half-way leaves its session and its proctor (Locust, the fault, the
    waits) behind: the next test's `start` would be refused and, once the module's sandbox is
    gone, the proctor would write its journal into a deleted project. Aborting rolls the fault
    back and ends the proctor; '' when nothing was left.
    """
    if not (root / ".drills" / "certify" / "session").exists():
        return ""
    code, out = certify(root, "abort", timeout_s=300)
    return f"aborted a practical left running (exit {code}): {out.strip()[-300:]}"


def certify(root: Path, *args: str, timeout_s: float = 400) -> tuple[int, str]:
    """`drills --root ROOT certify ARGS` as the trainee types it; exit code and output."""
    environ = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    command = [sys.executable, "-m", "drills.cli", "--root", str(root), "certify", *args]
    done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=timeout_s)
    return done.returncode, done.stdout + done.stderr


def start_practical(
    root: Path, drill: str, trainee: str, variant: str, *, time_scale: str, page: str
) -> str:
    """`certify start` with a chosen variant; checks the page and that it hides the variant."""
    code, out = certify(
        root, "start", drill, "--trainee", trainee, "--variant", variant, "--time-scale", time_scale
    )
    assert code == 0, out
    assert f"PAGE {page}" in out, out
    assert variant not in out  # the page says what a pager says, not the fault
    return out


def printed(out: str, pattern: str) -> str:
    """The first group of `pattern` in what the CLI printed (e.g. the kubeconfig, the DSN)."""
    found = re.search(pattern, out)
    assert found, out
    return found.group(1)


def kubectl_as(root: Path, config: Path, *args: str) -> str:
    """kubectl with the trainee's own kubeconfig (their user is in the audit log); its stdout."""
    done = subprocess.run(
        [str(REPO / ".drills" / "bin" / "kubectl"), "--kubeconfig", str(config), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=150,
        cwd=root,
    )
    return done.stdout


def now() -> str:
    """The wall time as a person writes it into a post-mortem (ISO 8601, UTC)."""
    return SystemClock().wall().isoformat()


def write(root: Path, name: str, text: str) -> Path:
    """A file the trainee hands to `certify notice` / `certify postmortem`."""
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path


def notice(severity: str, *, incident: str, impact: str, cause: str, mitigation: str) -> str:
    """The communication template of [000], filled in."""
    return (
        f"INCIDENT: {incident}\nSEVERITY: {severity}\nSTATUS: mitigating\nETA: 10 minutes\n"
        f"IMPACT: {impact}\nROOT CAUSE: {cause}\nMITIGATION: {mitigation}\n"
    )


def postmortem(detected: str, investigated: str, fixed: str, restored: str) -> str:
    """The [002] major-incident timeline: one line per entry, each with its time."""
    return (
        f"- {detected} detected\n- {investigated} investigation started\n"
        f"- {investigated} root cause identified\n- {fixed} fix applied\n"
        f"- {restored} service restored\n"
    )


def grades_of(root: Path, trainee: str) -> list[Path]:
    """Every grade.json the trainee has in the project, oldest first."""
    found = (root / "reports" / "certification" / trainee).glob("*/grade.json")
    return sorted(found, key=lambda path: path.stat().st_mtime)


def grade_of(root: Path, trainee: str) -> dict[str, Any]:
    """The trainee's newest grade.json: the practical the test just finished.

    The practical modules share one sandbox and project, and a trainee's name may come back in
    another module, so older grades of the same name can be there.
    """
    *_, path = grades_of(root, trainee)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def criteria(grade: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each criterion of a grade by name (`outcome`, `steps`, `timeliness`, ...)."""
    return {c["criterion"]: c for c in grade["payload"]["criteria"]}


def verdicts(grade: dict[str, Any]) -> dict[str, str]:
    """Each criterion's verdict by name."""
    return {name: str(c["verdict"]) for name, c in criteria(grade).items()}
