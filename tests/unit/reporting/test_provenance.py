import subprocess
from pathlib import Path

import pytest

from drills.core.provenance import NOT_A_GIT_REPOSITORY, sha256_hex
from drills.reporting.provenance import gather_provenance, git_state, package_version


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_outside_a_repository_the_commit_says_so(tmp_path: Path) -> None:
    assert git_state(tmp_path) == (NOT_A_GIT_REPOSITORY, None)


def test_a_repository_gives_its_commit_and_whether_the_tree_is_dirty(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("a")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "one")
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert git_state(tmp_path) == (head, False)
    (tmp_path / "a.txt").write_text("changed")
    assert git_state(tmp_path) == (head, True)


def test_gather_records_the_profile_digest_versions_and_people(tmp_path: Path) -> None:
    profile = tmp_path / "staging.toml"
    profile.write_bytes(b"[targets]\n")
    found = gather_provenance(
        tmp_path, profile_path=profile, operator="ana", approved_by="ben", ticket="CHG-7"
    )
    assert (found.operator, found.approved_by, found.ticket) == ("ana", "ben", "CHG-7")
    assert found.profile_path == str(profile)
    assert found.profile_sha256 == sha256_hex(b"[targets]\n")
    assert found.drills_version == package_version("drills") != ""
    assert found.git_commit == NOT_A_GIT_REPOSITORY
    assert found.host


def test_operator_defaults_to_the_os_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("drills.reporting.provenance.getpass.getuser", lambda: "os-user")
    assert gather_provenance(tmp_path, profile_path=None).operator == "os-user"
    assert gather_provenance(tmp_path, profile_path=None, operator="").operator == ""


def test_a_missing_package_has_no_version() -> None:
    assert package_version("no-such-distribution-xyz") == ""
