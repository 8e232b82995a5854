"""One representative hostile profile (or option) per category of issue 16, item 5.

The CLI test (tests/plugin) runs each against a project whose sandbox only looks up; the e2e
test (tests/e2e) runs each against a live sandbox and reads its audit log. Every variant is the
shipped sandbox profile with one change, installed as `fixtures/environments/hostile-<id>.toml`
of the project, so the profile the error must name is that file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SANDBOX_PROFILE = REPO / "fixtures" / "environments" / "sandbox.toml"
PLANTED = "PlantedHostilePw-4e1"  # a password in a malformed DSN: it must never be printed


def _elsewhere_current(root: Path) -> None:
    """hostile-kubeconfig: the sandbox's kubeconfig whose current context is `elsewhere`."""
    config = json.loads((root / ".drills" / "sandbox" / "kubeconfig").read_text())
    [context] = config["contexts"]
    config["contexts"].append({"name": "elsewhere", "context": context["context"]})
    config["current-context"] = "elsewhere"
    (root / "hostile-kubeconfig").write_text(json.dumps(config))


def _linked_reports(root: Path) -> None:
    """`linked` in the project: a symbolic link to the directory above it (outside it)."""
    link = root / "linked"
    if not link.is_symlink():
        link.symlink_to(root.parent, target_is_directory=True)


@dataclass(frozen=True)
class Hostile:
    """One hostile change, what the one error message must name, and how to set it up."""

    id: str
    key: str  # the key (or option) the message names
    says: str  # a phrase of the problem
    edits: tuple[tuple[str, str], ...] = ()  # text replacements in the sandbox profile
    env: Mapping[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    pytest_args: tuple[str, ...] = ()
    prepare: Callable[[Path], None] | None = None
    names_profile: bool = True  # False: the message names the option, not the profile

    def install(self, root: Path) -> Path:
        """Write the hostile profile into the project (and run `prepare`); its path."""
        text = SANDBOX_PROFILE.read_text(encoding="utf-8")
        for old, new in (('name = "sandbox"', f'name = "hostile-{self.id}"'), *self.edits):
            assert old in text, f"{self.id}: {old!r} is not in the sandbox profile"
            text = text.replace(old, new, 1)
        path = root / "fixtures" / "environments" / f"hostile-{self.id}.toml"
        path.write_text(text, encoding="utf-8")
        if self.prepare is not None:
            self.prepare(root)
        return path

    def assert_refused(self, profile: Path, code: int, output: str) -> None:
        """Exit 2, one error line naming the file, the key and a fix; no traceback, no secret."""
        assert code == 2, output
        errors = [line for line in output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, output
        [message] = errors
        assert (str(profile) if self.names_profile else "--drill-report-dir") in message, output
        assert self.key in message, output
        assert self.says in message, output
        assert "Fix:" in message, output
        assert "Traceback" not in output
        assert PLANTED not in output


_TARGETS = '[targets]\nkind = "sandbox"\n'
REPRESENTATIVES = (
    Hostile(
        "unknown-key",
        "'waits.poll_s'",
        "is not a known key (did you mean 'poll'?)",
        edits=(('poll = "200ms"', 'poll = "200ms"\npoll_s = "1s"'),),
    ),
    Hostile(
        "wrong-type", "'load.users'", "is 'twenty'", edits=(("users = 20", 'users = "twenty"'),)
    ),
    Hostile(
        "negative-duration",
        "'kill_switch.sustained'",
        "'-5m'",
        edits=(('sustained = "5m"', 'sustained = "-5m"'),),
    ),
    Hostile(
        "huge-duration",
        "'waits.steady_state_timeout'",
        "longer than a year",
        edits=(('steady_state_timeout = "60s"', 'steady_state_timeout = "1000d"'),),
    ),
    Hostile(
        "huge-fraction",
        "'safety.max_fraction'",
        "not a fraction",
        edits=(("max_fraction = 1.0", "max_fraction = 1e9"),),
    ),
    Hostile(
        "empty-allowlist",
        "'safety.kube_contexts'",
        "is empty",
        edits=(('kube_contexts = ["drills-sandbox"]', "kube_contexts = []"),),
    ),
    Hostile(
        "context-outside",
        "'targets.kube_context'",
        "'prod', which [safety] kube_contexts does not list",
        edits=(('kube_context = "drills-sandbox"', 'kube_context = "prod"'),),
    ),
    Hostile(
        "namespace-outside",
        "'safety.namespaces'",
        "does not list 'default'",
        edits=(
            ('namespaces = ["default"]', 'namespaces = ["shop"]'),
            ('namespace = "default"\ndeployment', "deployment"),
        ),
    ),
    Hostile(
        "account-outside",
        "'safety.aws_accounts'",
        "does not list 123456789012",
        edits=(('aws_accounts = ["123456789012"]', 'aws_accounts = ["999999999999"]'),),
    ),
    Hostile(
        "kubeconfig-current-context",
        "'targets.kube_context'",
        "current context of",
        edits=(('kubeconfig = ".drills/sandbox/kubeconfig"', 'kubeconfig = "hostile-kubeconfig"'),),
        prepare=_elsewhere_current,
    ),
    Hostile(
        "report-dir-outside",
        "outside the repository",
        "outside the repository",
        pytest_args=("--drill-report-dir=../outside-run",),
        names_profile=False,
    ),
    Hostile(
        "report-dir-symlink",
        "symbolic link",
        "linked",
        pytest_args=("--drill-report-dir=linked/run",),
        prepare=_linked_reports,
        names_profile=False,
    ),
    Hostile(
        "dsn-unset",
        "'targets.database_dsn_env'",
        "$HOSTILE_DSN, which is not set",
        edits=((_TARGETS, f'{_TARGETS}database_dsn_env = "HOSTILE_DSN"\n'),),
        unset=("HOSTILE_DSN",),
    ),
    Hostile(
        "dsn-malformed",
        "'targets.admin_dsn_env'",
        "scheme is not postgresql://",
        edits=((_TARGETS, f'{_TARGETS}admin_dsn_env = "HOSTILE_DSN"\n'),),
        env={"HOSTILE_DSN": f"mysql://root:{PLANTED}@db/shop"},
    ),
)
