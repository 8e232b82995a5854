"""Scripted trainees through `drills certify` on a real sandbox: graded from what they did.

Each test plays a trainee in their own shell: the real CLI starts the practical (the hidden
variant injected under Locust), the trainee uses kubectl with the kubeconfig the page names,
records ack/notice/post-mortem, and `drills certify finish` grades from the API server's audit
log and the proctor's journal. A good trainee follows RUNBOOKS.md §3.1 and PASSes; a trainee
who deletes pods instead of rolling back FAILs on the missing step and on the outcome; an
aborted practical leaves nothing injected.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drills.cli.paths import ProjectPaths
from drills.core.clock import SystemClock
from drills.core.conditions import Observation
from drills.core.safety import RollbackLedger
from drills.core.waiting import wait_until
from tests.e2e.certify_cli import certify, criteria, grade_of, grades_of
from tests.e2e.drill_cli import REPO, kubectl

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

DRILL = "crashloop-rollback"
STUCK = ("CrashLoopBackOff", "CreateContainerConfigError")
SCALE = "0.1"  # every budget a tenth: ack 30 s, detect 30 s, mitigate 90 s


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def start(root: Path, trainee: str, variant: str) -> Path:
    """Start the practical; return the trainee's kubeconfig from the page."""
    code, out = certify(
        root, "start", DRILL, "--trainee", trainee, "--variant", variant, "--time-scale", SCALE
    )
    assert code == 0, out
    assert "PAGE PodCrashLooping P1: shop pods restarting" in out
    assert variant not in out  # the page says what a pager says, not the fault
    found = re.search(r"export KUBECONFIG=(\S+)", out)
    assert found, out
    return Path(found.group(1))


def as_trainee(root: Path, config: Path, *args: str) -> str:
    """kubectl with the trainee's own kubeconfig (their user is in the audit log)."""
    binary = REPO / ".drills" / "bin" / "kubectl"
    done = subprocess.run(
        [str(binary), "--kubeconfig", str(config), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=150,
        cwd=root,
    )
    return done.stdout


def crashing_pod(root: Path, config: Path) -> str:
    """`kubectl get pods` until one is stuck (as a person would re-run it); its name."""

    def look() -> Observation:
        pods = json.loads(as_trainee(root, config, "get", "pods", "-l", "app=shop", "-o", "json"))
        for pod in pods["items"]:
            for status in pod["status"].get("containerStatuses") or []:
                waiting = status.get("state", {}).get("waiting") or {}
                if waiting.get("reason") in STUCK:
                    return Observation(True, pod["metadata"]["name"])
        return Observation(False, f"no pod in {' or '.join(STUCK)} yet")

    seen = wait_until(look, clock=SystemClock(), timeout_s=90, poll_s=1.0)
    return seen.last.detail


def now() -> str:
    return SystemClock().wall().isoformat()


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path


NOTICE = """INCIDENT: shop pods crash-looping after a release
SEVERITY: P1
STATUS: mitigating
ETA: 10 minutes
IMPACT: new shop pods do not start; the old ones still serve
ROOT CAUSE: the new release exits at start-up
MITIGATION: kubectl rollout undo deployment/shop
"""


def template_env(root: Path) -> dict[str, str]:
    deployment = json.loads(kubectl(root, "get", "deployment", "shop", "-o", "json"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def secret_key(root: Path) -> str:
    deployment = json.loads(kubectl(root, "get", "deployment", "shop", "-o", "json"))
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    [database] = [e for e in env if e["name"] == "DATABASE_URL"]
    return str(database["valueFrom"]["secretKeyRef"]["key"])


@pytest.mark.parametrize(
    ("trainee", "variant"),
    [("dave", "missing-secret-key")],  # bad-setting: the terminal test
)
def test_a_trainee_who_follows_the_runbook_passes(
    project: Path, trainee: str, variant: str
) -> None:
    config = start(project, trainee, variant)
    assert certify(project, "ack")[0] == 0
    detected = now()
    pod = crashing_pod(project, config)
    investigated = now()
    as_trainee(project, config, "describe", "pod", pod)
    assert certify(project, "notice", str(write(project, "notice.txt", NOTICE)))[0] == 0
    fixed = now()
    as_trainee(project, config, "rollout", "undo", "deployment/shop")
    as_trainee(project, config, "rollout", "status", "deployment/shop", "--timeout=120s")
    restored = now()
    report = (
        f"- {detected} detected\n- {investigated} investigation started\n"
        f"- {investigated} root cause identified\n- {fixed} fix applied\n"
        f"- {restored} service restored\n"
    )
    assert certify(project, "postmortem", str(write(project, "pm.md", report)))[0] == 0
    code, out = certify(project, "finish")
    grade = grade_of(project, trainee)
    assert code == 0, out
    assert grade["verdict"] == "PASS", json.dumps(grade["payload"]["criteria"], indent=1)
    assert grade["variant"] == variant
    assert all(c["verdict"] == "PASS" for c in criteria(grade).values())
    assert any("rollout undo" in (e.get("what") or "") for e in grade["payload"]["timeline"])
    assert template_env(project)["APP_VERSION"] == "1.0.0"
    assert secret_key(project) == "url"


def test_deleting_pods_instead_of_rolling_back_fails_on_the_step_and_the_outcome(
    project: Path,
) -> None:
    config = start(project, "bob", "bad-setting")
    assert certify(project, "ack")[0] == 0
    crashing_pod(project, config)
    as_trainee(project, config, "delete", "pod", "-l", "app=shop", "--wait=false")
    assert certify(project, "notice", str(write(project, "notice-bob.txt", NOTICE)))[0] == 0
    code, out = certify(project, "finish")
    assert code == 1, out
    grade = grade_of(project, "bob")
    assert grade["verdict"] == "FAIL"
    found = criteria(grade)
    assert found["steps"]["verdict"] == "FAIL"
    assert any("rollout-undo" in r or "rollout undo" in r for r in found["steps"]["reasons"])
    assert found["outcome"]["verdict"] == "FAIL"
    assert found["post-mortem"]["verdict"] == "FAIL"  # none was filed
    # whatever the trainee did, the practical's rollback left the shop as it was
    assert template_env(project)["APP_VERSION"] == "1.0.0"
    assert not (project / ".drills" / "certify" / "session").exists()


def test_an_aborted_practical_leaves_nothing_injected(project: Path) -> None:
    graded = grades_of(project, "carol")  # another module may have graded a carol before
    start(project, "carol", "bad-setting")
    code, out = certify(project, "abort")
    assert code == 0, out
    assert "nothing was graded" in out
    assert template_env(project)["APP_VERSION"] == "1.0.0"
    assert grades_of(project, "carol") == graded
    assert RollbackLedger(ProjectPaths(project).ledger).pending() == []
    assert certify(project, "status")[0] == 2  # no practical left running


class Terminal:
    """A shell in tmux, typed into and read back as a person at a terminal would."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        path = f"{REPO / '.drills' / 'bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", name, "-x", "200", "-y", "50", "-c", str(root)],
            check=True,
            env={**os.environ, "PATH": path, "PYTHONPATH": str(REPO)},
        )
        self.type(f"export PATH={path} PYTHONPATH={REPO}")
        self.type(f"alias drills='{sys.executable} -m drills.cli'")

    def type(self, line: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, line, "Enter"], check=True)

    def screen(self) -> str:
        done = subprocess.run(
            ["tmux", "capture-pane", "-p", "-J", "-S", "-", "-t", self.name],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def wait_for(self, pattern: str, timeout_s: float = 300) -> re.Match[str]:
        """Read the screen until `pattern` shows (bounded); its match."""
        found: list[re.Match[str]] = []

        def shown() -> Observation:
            match = re.search(pattern, self.screen())
            if match:
                found.append(match)
            return Observation(match is not None, self.screen()[-600:])

        wait_until(shown, clock=SystemClock(), timeout_s=timeout_s, poll_s=1.0)
        return found[-1]

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_person_at_a_terminal_recovers_and_passes(project: Path) -> None:
    """The whole practical typed into a real terminal: page, kubectl, notice, post-mortem."""
    term = Terminal(project, "drills-cert-e2e")
    try:
        start = f"drills certify start {DRILL} --trainee erin --variant bad-setting"
        term.type(f"{start} --time-scale {SCALE}")
        config = term.wait_for(r"export KUBECONFIG=(\S+)").group(1)
        term.type(f"export KUBECONFIG={config}; drills certify ack")
        term.type(  # re-run `get pods` until a pod is stuck, as a person would; the lines
            # shown are those of the very listing that matched (a second `get pods` may already
            # catch the pod Running between two back-offs)
            "D=$(date -u +%FT%TZ); until kubectl get pods | grep CrashLoopBackOff; do sleep 1; done"
        )
        term.wait_for(r"shop-\S+\s+0/1\s+CrashLoopBackOff", timeout_s=90)
        term.type("I=$(date -u +%FT%TZ); kubectl describe pods -l app=shop | tail -5")
        notice = NOTICE.replace("\n", "\\n")
        term.type(f"printf '{notice}' > notice.txt && drills certify notice notice.txt")
        term.type("F=$(date -u +%FT%TZ); kubectl rollout undo deployment/shop")
        term.type("kubectl rollout status deployment/shop --timeout=120s; R=$(date -u +%FT%TZ)")
        term.wait_for(r'deployment "shop" successfully rolled out', timeout_s=150)
        term.type(
            'printf -- "- $D detected\\n- $I investigation started\\n- $I root cause identified'
            '\\n- $F fix applied\\n- $R service restored\\n" > pm.md'
        )
        term.type("drills certify postmortem pm.md && drills certify finish; echo EXIT=$?")
        exit_code = term.wait_for(r"EXIT=(\d+)", timeout_s=300).group(1)
        screen = term.screen()
    finally:
        term.close()
    grade = grade_of(project, "erin")
    assert exit_code == "0", screen[-2000:]
    assert grade["verdict"] == "PASS", json.dumps(grade["payload"]["criteria"], indent=1)
    assert "grade: " in screen
    assert template_env(project)["APP_VERSION"] == "1.0.0"
