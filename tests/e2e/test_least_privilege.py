"""The drills as a restricted ServiceAccount: refused when a verb is missing, PASS with the Role.

One sandbox. The ServiceAccount, Role and RoleBinding of fixtures/rbac/drills-operator.yaml
are applied with kubectl (as the README tells an operator to), first with one verb taken out of
the Role (`delete` on pods: the pod-kill fault itself), and a copy of the sandbox profile points
at a kubeconfig holding the ServiceAccount's token. `drills run pod-kill-under-load` must exit 2
naming exactly that permission, and the audit log must show the ServiceAccount asked its
reviews and wrote nothing. With the shipped Role bound the same run PASSes, and every request
the ServiceAccount made was allowed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from drills.certification.evidence import read_audit_log
from drills.certification.identity import issue_token_kubeconfig
from drills.core.access import ROLE_PATH
from drills.core.actions import Action
from drills.core.clock import SystemClock
from drills.core.conditions import Observation
from drills.core.waiting import wait_until
from tests.e2e.drill_cli import REPO, kubectl, run_drill, sandboxed_project

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

ACCOUNT = "drills-operator"
USER = f"system:serviceaccount:default:{ACCOUNT}"
WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
REVIEWS = frozenset({"selfsubjectaccessreviews", "selfsubjectreviews"})  # they persist nothing
KUBECTL = REPO / ".drills" / "bin" / "kubectl"
CLOCK = SystemClock()


@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    if not KUBECTL.exists():
        pytest.skip("kubectl missing: run `make .drills/bin/kubectl` (make test does)")
    with sandboxed_project("drills-e2e-rbac-") as root:
        yield root


def _role_without(resource: str, verb: str) -> str:
    """The shipped manifests with `verb` taken off the rule for `resource`."""
    documents = list(yaml.safe_load_all((REPO / ROLE_PATH).read_text()))
    for document in documents:
        for rule in document.get("rules", []):
            if resource in rule["resources"] and verb in rule["verbs"]:
                rule["verbs"].remove(verb)
    return yaml.safe_dump_all(documents)


def _operator_profile(root: Path) -> Path:
    """A copy of the sandbox profile whose kubeconfig is the ServiceAccount's."""
    profile = (root / "fixtures" / "environments" / "sandbox.toml").read_text()
    for old, new in (
        ('name = "sandbox"', 'name = "operator"'),
        ('kubeconfig = ".drills/sandbox/kubeconfig"', 'kubeconfig = ".drills/operator/kubeconfig"'),
    ):
        assert old in profile
        profile = profile.replace(old, new)
    kubeconfig = root / ".drills" / "operator" / "kubeconfig"
    token = kubectl(root, "create", "token", ACCOUNT, "--duration=1h").strip()
    issue_token_kubeconfig(ACCOUNT, token, sandbox_state=root / ".drills/sandbox", path=kubeconfig)
    path = root / "fixtures" / "environments" / "operator.toml"
    path.write_text(profile)
    return kubeconfig


def _refused_run(root: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "drills.cli", "--root", str(root), "run"]
    return subprocess.run(
        [*command, "pod-kill-under-load", "--env", "operator"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _actions(root: Path, *, until: str) -> list[Action]:
    """The ServiceAccount's requests in the audit log, once one on `until` is there."""
    found: list[Action] = []

    def logged() -> Observation:
        found[:] = read_audit_log(root / ".drills" / "sandbox" / "audit.log", USER).actions
        return Observation(any(a.resource == until for a in found), f"{len(found)} requests")

    wait_until(logged, clock=CLOCK, timeout_s=20, poll_s=0.2, description=f"{until} audited")
    return found


def _may(kubeconfig: Path, verb: str, resource: str) -> Observation:
    done = subprocess.run(
        [str(KUBECTL), f"--kubeconfig={kubeconfig}", "auth", "can-i", verb, resource],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return Observation(done.stdout.strip() == "yes", done.stdout.strip() or done.stderr)


def test_one_verb_short_is_refused_before_any_fault_and_the_role_passes(project: Path) -> None:
    short = project / "short-role.yaml"
    short.write_text(_role_without("pods", "delete"))
    kubectl(project, "apply", "-f", str(short))
    kubeconfig = _operator_profile(project)

    refused = _refused_run(project)
    output = refused.stdout + refused.stderr
    assert refused.returncode == 2, output
    listed = [line.strip() for line in output.splitlines() if line.strip().startswith("- delete ")]
    assert listed == ["- delete pods in namespace default (for pod-kill-under-load)"], output
    assert f"{USER} lacks 1 Kubernetes permission " in output
    assert ROLE_PATH in output
    before = _actions(project, until="selfsubjectaccessreviews")
    writes = [a for a in before if a.verb in WRITES and a.resource not in REVIEWS]
    assert writes == [], [a.text for a in writes]

    kubectl(project, "apply", "-f", str(REPO / ROLE_PATH))
    wait_until(
        lambda: _may(kubeconfig, "delete", "pods"),
        clock=CLOCK,
        timeout_s=20,
        poll_s=0.2,
        description="the full Role in force",
    )
    started_s = CLOCK.wall().timestamp()
    run = run_drill(project, "pod-kill-under-load", "--env", "operator")
    assert (run.code, run.scenario["verdict"]) == (0, "PASS"), run.output
    during = [a for a in _actions(project, until="pods") if a.at_s >= started_s]
    assert any(a.verb == "delete" and a.resource == "pods" for a in during)  # as the account
    denied = [a.text for a in during if a.code == 403]
    assert denied == []  # the Role covered every call of the drill, its fixtures and rollback
