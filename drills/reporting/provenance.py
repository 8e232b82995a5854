"""Gather a run's provenance at the edge: the OS user, the host, git, package versions, profile.

Each lookup fails soft: a fact that cannot be found stays empty (the report says "unknown"),
because a missing version must never stop a drill. Kubernetes and PostgreSQL versions come
later, from the environment the drill reaches (`drills.pytest_plugin.fixtures`).
"""

from __future__ import annotations

import getpass
import importlib.metadata
import os
import socket
import subprocess
from pathlib import Path

from drills.core.provenance import NOT_A_GIT_REPOSITORY, RunProvenance, sha256_hex

__all__ = ["default_operator", "gather_provenance", "git_state", "package_version"]

_GIT_TIMEOUT_S = 10.0  # a `git status` on a large tree; beyond that the commit is "unknown"


def default_operator() -> str:
    """The OS user running the harness (`--operator` defaults to it); "" when unknown."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no USER/LOGNAME variables
        return ""


def package_version(name: str) -> str:
    """The installed version of a distribution, "" when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return ""


def git_state(root: Path) -> tuple[str, bool | None]:
    """(commit, dirty) of the repository at `root`; (NOT_A_GIT_REPOSITORY, None) outside one.

    Dirty means tracked or untracked changes (`git status --porcelain` prints anything).
    ("", None) when git is missing or too slow.
    """
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return "", None
    if not commit:
        return NOT_A_GIT_REPOSITORY, None
    status = _git(root, "status", "--porcelain")
    return commit, None if status is None else bool(status)


def _git(root: Path, *args: str) -> str | None:
    """Stdout of git; "" when git refused (no repository, no commit); None if it could not run."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # a report must not take the index lock
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else ""


def _profile_facts(profile_path: Path | None) -> tuple[str, str]:
    if profile_path is None:
        return "", ""
    try:
        return str(profile_path), sha256_hex(profile_path.read_bytes())
    except OSError:
        return str(profile_path), ""


def gather_provenance(
    root: Path,
    *,
    profile_path: Path | None,
    operator: str | None = None,
    approved_by: str = "",
    ticket: str = "",
) -> RunProvenance:
    """Everything knowable before the environment answers; `operator` None means the OS user."""
    commit, dirty = git_state(root)
    path_text, digest = _profile_facts(profile_path)
    return RunProvenance(
        operator=default_operator() if operator is None else operator,
        approved_by=approved_by,
        ticket=ticket,
        drills_version=package_version("drills"),
        git_commit=commit,
        git_dirty=dirty,
        profile_path=path_text,
        profile_sha256=digest,
        locust_version=package_version("locust"),
        host=socket.gethostname(),
    )
