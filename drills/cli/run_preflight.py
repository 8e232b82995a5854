"""`drills run`'s preflight: a hostile or malformed profile stops the run before anything acts.

Two stages, both raising a DrillError that names the file, the key and the fix (the CLI prints
it alone and exits 2):

- `check_request`, before anything starts (not even the sandbox): the allowlists against the
  profile's own targets, the report directory (inside the repository, no symbolic link on the
  way), and the DSN variables the profile names (set, and shaped like a DSN).
- `check_environment`, once the environment is up and before pytest starts: the kubeconfig's
  contexts against the profile and the allowlist, the namespace endpoints.json names, and the
  AWS account the run's credentials belong to (the sandbox's moto; elsewhere, when the shell
  has AWS credentials at all). It reads files and asks STS who the credentials are; it makes
  no call to the Kubernetes API.

A `containers` environment is started by the fixtures themselves, so only the first stage
applies to it; its connections still refuse a context or namespace outside the allowlist. A
sandbox that is not up (and that `--no-sandbox-up` keeps down) has nothing a drill could reach.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from drills.cli.paths import ProjectPaths
from drills.core.dsn import read_dsn
from drills.core.errors import ConfigError
from drills.core.preflight import (
    check_account,
    check_allowlists,
    check_context,
    check_namespace,
    check_report_dir,
    uses_aws,
)
from drills.core.profile import Profile, resolve_endpoints

__all__ = ["check_environment", "check_request", "report_dir_option"]

_OPTION = "--drill-report-dir"


def report_dir_option(pytest_args: Sequence[str]) -> str | None:
    """The last `--drill-report-dir` among the arguments passed through to pytest (it wins)."""
    found = None
    for index, word in enumerate(pytest_args):
        if word.startswith(f"{_OPTION}="):
            found = word.partition("=")[2]
        elif word == _OPTION and index + 1 < len(pytest_args):
            found = pytest_args[index + 1]
    return found


def check_request(
    paths: ProjectPaths, profile: Profile, report_dir: Path, environ: Mapping[str, str]
) -> None:
    """The checks that need no running environment (module doc, first stage)."""
    check_allowlists(profile)
    source = (
        _OPTION if report_dir.parent != paths.reports else f"the reports folder {paths.reports}"
    )
    check_report_dir(paths.root, report_dir, source=source)
    targets = profile.targets
    for key, name in (
        ("targets.database_dsn_env", targets.database_dsn_env),
        ("targets.admin_dsn_env", targets.admin_dsn_env),
    ):
        read_dsn(environ, name, key=key, where=profile.path)


def check_environment(paths: ProjectPaths, profile: Profile, environ: Mapping[str, str]) -> None:
    """The checks against the running environment's files and identity (second stage)."""
    targets = profile.targets
    if targets.kind == "containers":
        return
    endpoints_file = paths.root / targets.endpoints_file if targets.endpoints_file else None
    if endpoints_file is not None and not endpoints_file.exists():
        return  # not up: the fixtures say how to bring it up, and nothing can be reached
    endpoints = resolve_endpoints(targets, paths.root, environ, profile_path=profile.path)
    if endpoints.kubeconfig is None:
        raise ConfigError.bad_key(
            profile.path,
            "targets.kubeconfig",
            "is not set",
            'set e.g. kubeconfig = "~/.kube/config"',
        )
    from drills.targets.adapters.kubeconfig_file import read_contexts

    found = read_contexts(
        endpoints.kubeconfig, named_by=f"{profile.path}: key 'targets.kubeconfig'"
    )
    check_context(profile, kubeconfig=found.path, contexts=found.names, current=found.current)
    named_by = str(endpoints_file) if endpoints_file is not None else "[targets] namespace"
    check_namespace(profile, endpoints.namespace or "default", named_by=named_by)
    if uses_aws(profile):
        account = _account(profile, endpoints.aws_endpoint)
        if account is not None:
            check_account(profile, account, whose=_whose(profile))


def _account(profile: Profile, endpoint_url: str | None) -> str | None:
    """The account the run's AWS calls would act in; None: no credentials, so no AWS call."""
    from drills.targets.adapters.aws_identity import caller_account, has_credentials

    named_by = f"{profile.path}: key 'targets.aws_region'"
    if profile.targets.kind == "sandbox":
        named_by = f"{profile.path}: key 'targets.endpoints_file' (its aws_endpoint, moto)"
        from drills.sandbox.aws import DUMMY_CREDENTIALS

        if not endpoint_url:  # never ask real AWS with the sandbox's dummy credentials
            raise ConfigError(
                f"{profile.path}: the sandbox's endpoints name no aws_endpoint (its moto). "
                "Fix: run `drills sandbox down` and `drills sandbox up`"
            )
        return caller_account(
            region=profile.targets.aws_region,
            endpoint_url=endpoint_url,
            credentials=DUMMY_CREDENTIALS,
            named_by=named_by,
        )
    if not has_credentials(profile.targets.aws_region):
        return None
    return caller_account(region=profile.targets.aws_region, named_by=named_by)


def _whose(profile: Profile) -> str:
    if profile.targets.kind == "sandbox":
        return "the sandbox's AWS API (moto)"
    return "the AWS credentials in this shell"
