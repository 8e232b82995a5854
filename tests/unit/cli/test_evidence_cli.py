"""`drills evidence seal|verify` in process: exit codes 0/1/2, the lines naming files, the key."""

from __future__ import annotations

import io
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from drills.cli import build_parser, main
from drills.cli.paths import ProjectPaths
from drills.cli.seal import evidence_command
from drills.core.journal import RunJournal
from drills.core.provenance import RunProvenance
from drills.reporting.signing_key import KEY_VARIABLE, public_pem

RUN_ID = "20260301-120000"


def make_project(root: Path, *, profile_path: str = "") -> ProjectPaths:
    """A project whose reports/ holds one run (reports/latest points at it)."""
    paths = ProjectPaths(root)
    run_dir = paths.reports / RUN_ID
    run_dir.mkdir(parents=True)
    journal = RunJournal(
        RUN_ID,
        "sandbox",
        "2026-03-01T12:00:00+00:00",
        provenance=RunProvenance(profile_path=profile_path),
    )
    (run_dir / "journal.json").write_text(journal.to_json(), encoding="utf-8")
    (run_dir / "report.html").write_text("<html>PASS</html>\n", encoding="utf-8")
    (paths.reports / "latest").symlink_to(RUN_ID)
    return paths


def evidence(paths: ProjectPaths, environ: Mapping[str, str], *words: str) -> tuple[int, str]:
    out = io.StringIO()
    args = build_parser().parse_args(["evidence", *words])
    code = evidence_command(args, paths, Console(file=out, width=400, soft_wrap=True), environ)
    return code, out.getvalue()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never let a test fall back to the user's own ~/.config/drills/signing-key.pem."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    return tmp_path / "home"


@pytest.fixture
def paths(tmp_path: Path) -> ProjectPaths:
    return make_project(tmp_path / "project")


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {KEY_VARIABLE: str(tmp_path / "keys" / "signing-key.pem")}


def test_first_seal_creates_the_key_and_says_where(
    paths: ProjectPaths, environ: dict[str, str]
) -> None:
    code, out = evidence(paths, environ, "seal")
    assert code == 0
    assert f"created a new Ed25519 signing key at {environ[KEY_VARIABLE]}" in out
    assert "back it up" in out
    assert f"To use another key set ${KEY_VARIABLE} or the profile's [evidence] signing_key." in out
    assert Path(environ[KEY_VARIABLE]).is_file()
    assert f"sealed run {RUN_ID}: 2 file(s)" in out
    assert f"pack: {paths.reports.resolve() / RUN_ID}.sealed.tar.gz" in out
    code, again = evidence(paths, environ, "seal")
    assert code == 0
    assert "created a new" not in again  # sealing again reuses the key and works
    assert f"${KEY_VARIABLE}" in again


def test_verify_passes_on_a_sealed_run(paths: ProjectPaths, environ: dict[str, str]) -> None:
    evidence(paths, environ, "seal", RUN_ID)
    code, out = evidence(paths, environ, "verify")
    assert code == 0
    assert f"verified: 2 file(s) of run {RUN_ID}" in out
    assert "pass --public-key PATH" in out


def test_verify_exits_1_naming_each_file(paths: ProjectPaths, environ: dict[str, str]) -> None:
    evidence(paths, environ, "seal")
    run_dir = paths.reports / RUN_ID
    (run_dir / "journal.json").write_bytes((run_dir / "journal.json").read_bytes() + b" ")
    (run_dir / "report.html").unlink()
    (run_dir / "extra.txt").write_text("x", encoding="utf-8")
    code, out = evidence(paths, environ, "verify", RUN_ID)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("NOT VERIFIED:")
    assert lines[1].startswith("  changed: journal.json (sha256")
    assert lines[2:] == ["  missing: report.html", "  added: extra.txt (not in the manifest)"]


def test_the_tarball_verifies_elsewhere_only_with_the_signers_public_key(
    tmp_path: Path, paths: ProjectPaths, environ: dict[str, str]
) -> None:
    evidence(paths, environ, "seal")
    elsewhere = tmp_path / "auditor"
    elsewhere.mkdir()
    tarball = shutil.move(paths.reports / f"{RUN_ID}.sealed.tar.gz", elsewhere)
    public = shutil.copy(paths.reports / RUN_ID / "manifest.pub.pem", elsewhere / "signer.pem")
    shutil.rmtree(paths.reports)
    code, out = evidence(paths, {}, "verify", str(tarball), "--public-key", str(public))
    assert code == 0, out
    assert "the public key given" in out
    (elsewhere / "other.pem").write_bytes(public_pem(Ed25519PrivateKey.generate().public_key()))
    code, out = evidence(
        paths, {}, "verify", str(tarball), "--public-key", str(elsewhere / "other.pem")
    )
    assert code == 1
    assert "  manifest.sig: bad signature: manifest.json was not signed by" in out


def test_a_bad_run_id_is_a_usage_error_listing_the_runs(
    paths: ProjectPaths, environ: dict[str, str]
) -> None:
    code, out = evidence(paths, environ, "seal", "no-such-run")
    assert code == 2
    assert "no-such-run is not a run directory (no journal.json)" in out
    assert f"Runs in {paths.reports}: {RUN_ID}" in out
    code, out = evidence(paths, environ, "verify", "no-such-run")
    assert code == 2
    assert f"nothing to verify at {paths.reports / 'no-such-run'}" in out


def test_verify_of_an_unsealed_run_exits_1(paths: ProjectPaths, environ: dict[str, str]) -> None:
    code, out = evidence(paths, environ, "verify")
    assert code == 1
    assert "manifest.json: unreadable or missing" in out


@pytest.mark.parametrize(
    ("words", "says"),
    [
        (("--public-key", "missing.pem"), "missing.pem"),
        (("--public-key", "garbage.pem"), "garbage.pem is not a PEM public key"),
        (("not-a-tarball.tar.gz",), "error:"),
    ],
    ids=["missing-key", "garbage-key", "not-a-tarball"],
)
def test_verify_usage_errors_exit_2(
    tmp_path: Path,
    paths: ProjectPaths,
    environ: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    words: tuple[str, ...],
    says: str,
) -> None:
    evidence(paths, environ, "seal")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.pem").write_text("garbage", encoding="utf-8")
    (tmp_path / "not-a-tarball.tar.gz").write_text("plain text", encoding="utf-8")
    code, out = evidence(paths, environ, "verify", *words)
    assert code == 2
    assert says in out


def test_a_key_file_that_is_not_a_key_is_a_usage_error(tmp_path: Path, paths: ProjectPaths) -> None:
    key = tmp_path / "broken.pem"
    key.write_text("garbage", encoding="utf-8")
    code, out = evidence(paths, {KEY_VARIABLE: str(key)}, "seal")
    assert code == 2
    assert f"error: signing key: {key} is not an unencrypted PEM private key" in out
    assert not (paths.reports / RUN_ID / "manifest.json").exists()


def _write_profile(paths: ProjectPaths, name: str) -> Path:
    paths.profiles.mkdir(parents=True)
    profile = paths.profiles / f"{name}.toml"
    profile.write_text('[evidence]\nsigning_key = "keys/team.pem"\n', encoding="utf-8")
    return profile


def test_env_selects_the_profiles_key(tmp_path: Path) -> None:
    paths = make_project(tmp_path / "project")
    _write_profile(paths, "staging")
    code, out = evidence(paths, {}, "seal", "--env", "staging")
    assert code == 0, out
    assert (paths.profiles / "keys" / "team.pem").is_file()
    assert "the profile's [evidence] signing_key" in out


def test_without_env_the_runs_recorded_profile_names_the_key(tmp_path: Path) -> None:
    root = tmp_path / "project"
    profile = _write_profile(ProjectPaths(root), "staging")
    paths = make_project(root, profile_path=str(profile))
    code, out = evidence(paths, {}, "seal")
    assert code == 0, out
    assert (paths.profiles / "keys" / "team.pem").is_file()


def test_main_seals_and_verifies(
    tmp_path: Path, paths: ProjectPaths, environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, environ[KEY_VARIABLE])
    root = ["--root", str(paths.root)]
    assert main([*root, "evidence", "seal"]) == 0
    assert main([*root, "evidence", "verify", f"{RUN_ID}.sealed.tar.gz"]) == 0
    (paths.reports / RUN_ID / "report.html").write_text("<html>FAIL</html>\n", encoding="utf-8")
    assert main([*root, "evidence", "verify", RUN_ID]) == 1
    assert main([*root, "evidence", "verify", "nope"]) == 2


def test_with_no_variable_and_no_profile_key_the_default_location_is_used(
    home: Path, paths: ProjectPaths
) -> None:
    code, out = evidence(paths, {}, "seal")
    assert code == 0, out
    assert f"created a new Ed25519 signing key at {home / '.config/drills/signing-key.pem'}" in out
    assert "the default location" in out


def test_a_broken_profile_named_by_env_is_a_usage_error_shown_verbatim(
    tmp_path: Path, paths: ProjectPaths
) -> None:
    paths.profiles.mkdir(parents=True)
    (paths.profiles / "broken.toml").write_text('evidence = "k.pem"\n', encoding="utf-8")
    code, out = evidence(paths, {}, "seal", "--env", "broken")
    assert code == 2
    assert "error: signing key:" in out
    assert "write it as [evidence]" in out  # not swallowed as console markup


def test_a_journal_that_is_not_an_object_still_seals(
    paths: ProjectPaths, environ: dict[str, str]
) -> None:
    (paths.reports / RUN_ID / "journal.json").write_text("[]", encoding="utf-8")
    code, out = evidence(paths, environ, "seal")
    assert code == 0, out
    assert f"sealed run {RUN_ID}:" in out  # the directory's name stands in for the run id
