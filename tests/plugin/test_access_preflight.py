"""The access preflight through `drills run`, against a fake API server that answers reviews.

The toy project's one drill has the id `pod-kill-under-load`, so the preflight asks for that
drill's declared permissions; the fake server denies what the test says and records each
SelfSubjectAccessReview. No cluster, no sandbox.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from drills.core.access import ROLE_PATH
from drills.core.access_needs import DRILL_NEEDS, METRICS_APIS_NAMESPACE, needs_for
from tests.plugin.conftest import REPO, toy_cli_project
from tests.plugin.fake_http import QuietHandler, serving

USER = "system:serviceaccount:default:drills-operator"


class _Reviewer(QuietHandler):
    """Answers SelfSubjectAccessReviews (denying `denied`) and SelfSubjectReviews."""

    denied: ClassVar[set[tuple[str, str]]] = set()
    asked: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.endswith("/selfsubjectaccessreviews"):
            attributes = body["spec"]["resourceAttributes"]
            self.asked.append(attributes)
            denied = (attributes["verb"], attributes["resource"]) in self.denied
            body["status"] = {"allowed": not denied}
        elif self.path.endswith("/selfsubjectreviews"):
            body["status"] = {"userInfo": {"username": USER}}
        else:
            self.send_error(404)
            return
        self.reply(201, json.dumps(body).encode())


@pytest.fixture
def api_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(_Reviewer, "asked", [])
    monkeypatch.setattr(_Reviewer, "denied", set())
    with serving(_Reviewer) as url:
        yield url


def _project(root: Path, server: str, example: str = "access_drill.py") -> Path:
    toy_cli_project(root, (example, "test_access.py"))
    (root / "scenarios" / "test_toy.py").unlink()
    profile = (REPO / "fixtures" / "environments" / "sandbox.toml").read_text()
    for old, new in (
        ('name = "sandbox"', 'name = "fake"'),
        ('kind = "sandbox"', 'kind = "cluster"'),
        ('endpoints_file = ".drills/sandbox/endpoints.json"\n', ""),
        ('kubeconfig = ".drills/sandbox/kubeconfig"', 'kubeconfig = "kube"'),
    ):
        assert old in profile
        profile = profile.replace(old, new)
    (root / "fixtures" / "environments" / "fake.toml").write_text(profile)
    context = {"cluster": "fake", "user": "fake", "namespace": "default"}
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "drills-sandbox",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "contexts": [{"name": "drills-sandbox", "context": context}],
        "users": [{"name": "fake", "user": {"token": "not-a-secret"}}],
    }
    (root / "kube").write_text(json.dumps(kubeconfig))
    return root


def _run(project: Path, *args: str) -> tuple[int, str]:
    command = [sys.executable, "-m", "drills.cli", "--root", str(project), "run"]
    done = subprocess.run(
        [*command, "--no-sandbox-up", "--env", "fake", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def _needs() -> int:
    return len(DRILL_NEEDS["pod-kill-under-load"])


def test_a_missing_permission_refuses_the_run_before_any_fault(
    tmp_path: Path, api_server: str
) -> None:
    project = _project(tmp_path, api_server)
    _Reviewer.denied.add(("delete", "pods"))
    code, output = _run(project, "pod-kill-under-load")
    assert code == 2, output
    listed = [
        line.strip()
        for line in output.splitlines()
        if line.strip().startswith("- ") and " in namespace " in line
    ]
    assert listed == ["- delete pods in namespace default (for pod-kill-under-load)"], output
    assert f"user {USER} lacks 1 Kubernetes permission " in output
    assert ROLE_PATH in output
    assert not (project / "access.flag").exists()  # the fault never acted
    assert not (project / "reports" / "latest").exists()
    assert len(_Reviewer.asked) == _needs()  # one review per permission, each once
    assert {a["namespace"] for a in _Reviewer.asked} == {"default"}


def test_a_dry_run_lists_the_missing_permissions_after_the_plan(
    tmp_path: Path, api_server: str
) -> None:
    project = _project(tmp_path, api_server)
    _Reviewer.denied.update({("delete", "pods"), ("list", "endpointslices")})
    code, output = _run(project, "--dry-run")
    assert code == 1, output
    assert "dry run: a real run would be refused" in output
    listed = [
        line.strip()
        for line in output.splitlines()
        if line.strip().startswith("- ") and " in namespace " in line
    ]
    assert listed == [
        "- delete pods in namespace default (for pod-kill-under-load)",
        "- list endpointslices.discovery.k8s.io in namespace default (for pod-kill-under-load)",
    ], output
    assert "flip access.flag to down" in output  # the plan is still shown
    assert not (project / "access.flag").exists()


def test_with_every_permission_the_drill_runs_and_says_what_was_checked(
    tmp_path: Path, api_server: str
) -> None:
    project = _project(tmp_path, api_server)
    code, output = _run(project)
    assert code == 0, output
    assert f"user {USER} holds the {_needs()} Kubernetes permission(s)" in output
    assert (project / "access.flag").read_text() == "up"  # injected, then rolled back
    assert len(_Reviewer.asked) == _needs()


def test_a_variant_is_asked_for_what_it_needs_beyond_its_drill(
    tmp_path: Path, api_server: str
) -> None:
    project = _project(tmp_path, api_server, "access_variant_drill.py")
    _Reviewer.denied.add(("delete", "horizontalpodautoscalers"))
    code, output = _run(project, "hpa-spike")  # the default variant never deletes the HPA
    assert code == 0, output
    assert len(_Reviewer.asked) == len(needs_for("hpa-spike"))
    (project / "access.flag").unlink()  # the first run's fault, rolled back
    code, output = _run(project, "hpa-spike", "--variant", "no-hpa")
    assert code == 2, output
    assert (
        "- delete horizontalpodautoscalers.autoscaling in namespace default "
        "(for hpa-spike --variant no-hpa)"
    ) in output
    assert not (project / "access.flag").exists()  # refused before the fault


def test_cluster_wide_and_other_namespace_needs_are_asked_where_they_live(
    tmp_path: Path, api_server: str
) -> None:
    project = _project(tmp_path, api_server, "access_variant_drill.py")
    code, output = _run(project, "hpa-spike", "--variant", "no-metrics")
    assert code == 0, output
    where = {(a["verb"], a["resource"]): a.get("namespace") for a in _Reviewer.asked}
    assert where[("list", "apiservices")] in (None, "")  # cluster-wide: no namespace
    assert where[("patch", "endpointslices")] == METRICS_APIS_NAMESPACE
    assert where[("list", "endpointslices")] in ("default", METRICS_APIS_NAMESPACE)
    assert len(_Reviewer.asked) == len(set(needs_for("hpa-spike", "no-metrics")))
