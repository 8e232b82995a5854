"""Preflight: what one run may touch, checked before anything acts (DESIGN.md, Safety).

A profile says what drills may break (`[safety]` allowlists) and where the targets are
(`[targets]`). Before a run starts, these checks refuse a profile that contradicts itself, a
kubeconfig that would lead somewhere else, a namespace or AWS account outside the allowlist,
and a report directory that would write outside the repository. Each raises a
`SafetyViolation` (or `ConfigError`) naming the file, the key and the fix; nothing was touched.

The checks here are pure: the caller reads the kubeconfig, asks AWS who the credentials are and
resolves the endpoints (`drills.cli.run_preflight`), and hands the answers in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from drills.core.errors import ConfigError, SafetyViolation
from drills.core.profile import Profile

__all__ = [
    "check_account",
    "check_allowlists",
    "check_context",
    "check_namespace",
    "check_report_dir",
    "uses_aws",
]


def uses_aws(profile: Profile) -> bool:
    """True when drills of this profile may call an AWS API (the sandbox's moto counts)."""
    return profile.targets.kind == "sandbox" or profile.targets.aws_region is not None


def check_allowlists(profile: Profile) -> None:
    """Refuse empty allowlists and `[targets]` that name what `[safety]` does not allow."""
    safety, targets, path = profile.allowlist, profile.targets, profile.path
    lists = [("kube_contexts", safety.kube_contexts, "cluster context", '["staging"]')]
    lists.append(("namespaces", safety.namespaces, "namespace", '["shop-staging"]'))
    if uses_aws(profile):
        lists.append(("aws_accounts", safety.aws_accounts, "AWS account", '["123456789012"]'))
    for key, allowed, what, example in lists:
        if not allowed:
            raise SafetyViolation.bad_key(
                path,
                f"safety.{key}",
                f"is empty, so no drill may touch any {what}",
                f"list the ones drills may break, e.g. {key} = {example}",
            )
    for key, wanted, allowed in (
        ("kube_context", targets.kube_context, safety.kube_contexts),
        ("namespace", targets.namespace, safety.namespaces),
    ):
        if wanted is not None and wanted not in allowed:
            raise SafetyViolation.bad_key(
                path,
                f"targets.{key}",
                f"is '{wanted}', which [safety] {key}s does not list ({_listed(allowed)})",
                f"add '{wanted}' to [safety] {key}s only if drills may break it; otherwise "
                f"set targets.{key} to an allowed one",
            )


def check_context(
    profile: Profile, *, kubeconfig: Path, contexts: Sequence[str], current: str | None
) -> str:
    """The context the run will use; refuse one the kubeconfig lacks, disagrees on, or not allowed.

    `contexts` and `current` are what `kubeconfig` holds. A profile that names a context needs
    the kubeconfig's current context to be the same one (or unset): otherwise `kubectl` in the
    operator's shell and the drill would act on different clusters.
    """
    wanted, path = profile.targets.kube_context, profile.path
    if wanted is not None and wanted not in contexts:
        raise ConfigError.bad_key(
            path,
            "targets.kube_context",
            f"is '{wanted}', but {kubeconfig} has no context of that name ({_listed(contexts)})",
            "set it to one of those, or point targets.kubeconfig at the file that has it",
        )
    if wanted is not None and current is not None and current != wanted:
        raise SafetyViolation.bad_key(
            path,
            "targets.kube_context",
            f"is '{wanted}', but the current context of {kubeconfig} is '{current}' (kubectl "
            "and the drill would act on different clusters)",
            f"run `kubectl --kubeconfig {kubeconfig} config use-context {wanted}`, or use the "
            f"profile made for '{current}'",
        )
    chosen = wanted or current
    if chosen is None:
        raise ConfigError.bad_key(
            path,
            "targets.kube_context",
            f"is not set and {kubeconfig} has no current context",
            "set targets.kube_context to the (allowlisted) context to drill",
        )
    if chosen not in profile.allowlist.kube_contexts:
        raise SafetyViolation.bad_key(
            path,
            "safety.kube_contexts",
            f"does not list '{chosen}', the context {kubeconfig} would use",
            f"add '{chosen}' there only if drills may break that cluster, or pass --env with "
            "the profile made for it",
        )
    return chosen


def check_namespace(profile: Profile, namespace: str, *, named_by: str) -> None:
    """Refuse a `namespace` (named by `named_by`, e.g. endpoints.json) outside the allowlist."""
    if namespace not in profile.allowlist.namespaces:
        raise SafetyViolation.bad_key(
            profile.path,
            "safety.namespaces",
            f"does not list '{namespace}', the namespace {named_by} names",
            f"add '{namespace}' there only if drills may break it, or target an allowed one",
        )


def check_account(profile: Profile, account: str, *, whose: str) -> None:
    """Refuse an AWS `account` (that of `whose`, e.g. the ambient credentials) not allowlisted."""
    if account not in profile.allowlist.aws_accounts:
        raise SafetyViolation.bad_key(
            profile.path,
            "safety.aws_accounts",
            f"does not list {account}, the account of {whose}",
            "check AWS_PROFILE and the credentials (aws sts get-caller-identity), or add the "
            "account there only if drills may use it",
        )


def check_report_dir(root: Path, report_dir: Path, *, source: str) -> None:
    """Refuse a report directory outside `root` or reached through a symbolic link.

    `source` says where the directory was set (`--drill-report-dir`, an ini key, `reports/`).
    Evidence is written only inside the repository, through real directories: a link could send
    it (and the masking of secrets in it) anywhere on the machine.
    """
    path = report_dir if report_dir.is_absolute() else root / report_dir
    fix = "use a directory inside the repository, e.g. reports/<run-id> (the default)"
    inside = next((base for base in (root, root.resolve()) if path.is_relative_to(base)), None)
    if inside is None or ".." in path.parts:
        raise ConfigError(f"{source}: {path} is outside the repository {root}. Fix: {fix}")
    walked = inside
    for part in path.relative_to(inside).parts:
        walked = walked / part
        if walked.is_symlink():
            raise ConfigError(
                f"{source}: {path} goes through the symbolic link {walked} (to "
                f"{walked.resolve()}). Fix: make {walked} a real directory, or {fix}"
            )
        if not walked.exists():
            break
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{source}: {path} is a file, not a directory. Fix: {fix}")


def _listed(names: Sequence[str]) -> str:
    return f"it lists: {', '.join(names)}" if names else "it lists none"
