"""Secrets planted in the DSNs, the kubeconfig and AWS variables reach no output of a run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugin.conftest import REPO, toy_cli_project
from tests.plugin.fake_http import QuietHandler, serving

PASSWORD = "PlantedPw-7f3a"
ADMIN_PASSWORD = "PlantedAdm-91c2"
TOKEN = "PlantedTok-5d8e0b"
AWS_SECRET = "PlantedAws-c0ffee"
SECRETS = (PASSWORD, ADMIN_PASSWORD, TOKEN, AWS_SECRET)


class _Unauthorized(QuietHandler):
    """An API server that refuses every request and echoes the credential it got."""

    def do_GET(self) -> None:
        body = f'{{"message": "invalid {self.headers.get("Authorization")}"}}'.encode()
        self.reply(401, body)


@pytest.fixture
def api_server() -> Iterator[str]:
    with serving(_Unauthorized) as url:
        yield url


def _kubeconfig(server: str) -> str:
    return f"""apiVersion: v1
kind: Config
current-context: leaky
clusters:
- name: leaky
  cluster:
    server: {server}
contexts:
- name: leaky
  context: {{cluster: leaky, user: leaky, namespace: default}}
users:
- name: leaky
  user:
    token: {TOKEN}
"""


def _leaky_project(root: Path, server: str) -> Path:
    toy_cli_project(root, ("leaky_drill.py", "test_leaky.py"))
    (root / "scenarios" / "test_toy.py").unlink()
    profile = (REPO / "fixtures" / "environments" / "sandbox.toml").read_text()
    profile = profile.replace('name = "sandbox"', 'name = "leaky"')
    profile = profile.replace('kind = "sandbox"', 'kind = "cluster"')
    profile = profile.replace(
        'endpoints_file = ".drills/sandbox/endpoints.json"',
        'database_dsn_env = "LEAKY_DSN"\nadmin_dsn_env = "LEAKY_ADMIN_DSN"',
    )
    profile = profile.replace('kubeconfig = ".drills/sandbox/kubeconfig"', 'kubeconfig = "kube"')
    profile = profile.replace('kube_context = "drills-sandbox"', 'kube_context = "leaky"')
    profile = profile.replace('kube_contexts = ["drills-sandbox"]', 'kube_contexts = ["leaky"]')
    # No AWS here: preflight would ask STS (unreachable) which account the credentials are.
    profile = profile.replace('aws_region = "ap-southeast-1"', "")
    (root / "fixtures" / "environments" / "leaky.toml").write_text(profile)
    (root / "kube").write_text(_kubeconfig(server))
    return root


def _hits(path: Path) -> list[str]:
    data = path.read_bytes()
    return [f"{path}: {secret}" for secret in SECRETS if secret.encode() in data]


def test_a_failing_drill_leaks_no_secret(tmp_path: Path, api_server: str) -> None:
    project = _leaky_project(tmp_path, api_server)
    env = {
        **os.environ,
        "LEAKY_DSN": f"postgresql://app:{PASSWORD}@127.0.0.1:1/shop",
        "LEAKY_ADMIN_DSN": f"host=127.0.0.1 port=1 user=postgres password={ADMIN_PASSWORD}",
        "AWS_ACCESS_KEY_ID": "AKIALEAKY",
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
    }
    command = [sys.executable, "-m", "drills.cli", "--root", str(project)]
    done = subprocess.run(
        [*command, "run", "--no-sandbox-up", "--env", "leaky"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "leaky" in output
    written = [p for top in ("reports", ".drills") for p in (project / top).rglob("*")]
    files = [p for p in written if p.is_file()]
    assert any(p.name == "junit.xml" for p in files)
    assert any("allure-results" in p.parts for p in files)
    leaks = [hit for path in files for hit in _hits(path)]
    leaks += [f"terminal: {secret}" for secret in SECRETS if secret in output]
    assert leaks == [], "\n".join(leaks)
