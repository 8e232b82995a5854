"""`drills run` with a hostile profile: exit 2, one message naming file, key and fix; nothing ran.

The project's sandbox only looks up (endpoints.json and a kubeconfig, no servers; its AWS API
is a stub that answers STS GetCallerIdentity with moto's account), so the preflight reads what a
real sandbox would give it. `--no-sandbox-up` guards against starting a real one. The command
runs in this process (`drills.cli.main`): a hostile run ends in the preflight, before pytest.
The one run that passes the preflight and reaches pytest runs in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import drills.cli as cli
from tests.hostile_variants import REPRESENTATIVES, Hostile
from tests.plugin.conftest import toy_cli_project
from tests.plugin.fake_http import QuietHandler, serving

_IDENTITY = """<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/moto</Arn>
<UserId>AKIAIOSFODNN7EXAMPLE</UserId><Account>123456789012</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>hostile</RequestId></ResponseMetadata></GetCallerIdentityResponse>"""


class _Sts(QuietHandler):
    """Answers every POST as STS GetCallerIdentity for moto's account."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.reply(200, _IDENTITY.encode(), "text/xml")


@pytest.fixture(scope="module")
def sts() -> Iterator[str]:
    with serving(_Sts) as url:
        yield url


@pytest.fixture
def project(tmp_path: Path, sts: str) -> Path:
    """Toy drills in a project whose sandbox looks up: its files, no servers."""
    root = toy_cli_project(tmp_path / "repo")
    state = root / ".drills" / "sandbox"
    state.mkdir(parents=True)
    context = {"cluster": "drills-sandbox", "user": "drills-admin", "namespace": "default"}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "drills-sandbox", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "drills-admin", "user": {}}],
        "contexts": [{"name": "drills-sandbox", "context": context}],
        "current-context": "drills-sandbox",
    }
    (state / "kubeconfig").write_text(json.dumps(config))
    endpoints = {"namespace": "default", "aws_endpoint": sts, "kube_api": "https://127.0.0.1:9"}
    (state / "endpoints.json").write_text(json.dumps(endpoints))
    return root


def run(project: Path, env: str, *extra: str, dry_run: bool) -> list[str]:
    words = ["--root", str(project), "run", "--no-sandbox-up", "--env", env, "toy-pass"]
    return [*words, *(["--dry-run"] if dry_run else []), *extra]


def test_the_shipped_sandbox_profile_passes_the_preflight(project: Path) -> None:
    # A subprocess: this run reaches pytest, whose in-process run would leave state behind.
    command = [sys.executable, "-m", "drills.cli", *run(project, "sandbox", dry_run=True)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "would inject" in done.stdout  # the toy drill planned: the preflight let it through


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize("hostile", REPRESENTATIVES, ids=[h.id for h in REPRESENTATIVES])
def test_a_hostile_profile_is_one_message_and_acts_on_nothing(
    project: Path,
    hostile: Hostile,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    *,
    dry_run: bool,
) -> None:
    profile = hostile.install(project)
    for name in hostile.unset:
        monkeypatch.delenv(name, raising=False)
    for name, value in hostile.env.items():
        monkeypatch.setenv(name, value)
    extra = ("--", *hostile.pytest_args) if hostile.pytest_args else ()
    code = cli.main(run(project, profile.stem, *extra, dry_run=dry_run))
    out, err = capfd.readouterr()
    hostile.assert_refused(profile, code, out + err)
    assert not (project / "pass.flag").exists()  # the toy drill's fault never acted
    assert not (project / "reports").exists()  # no run started, so no evidence either
    assert not (project / ".drills" / "rollbacks.jsonl").exists()
