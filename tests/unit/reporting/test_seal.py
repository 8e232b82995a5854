"""Sealed evidence: a signed manifest of every file, and every kind of tampering named on verify."""

from __future__ import annotations

import base64
import json
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drills.core.journal import DrillRecord, RunJournal
from drills.core.objectives import Verdict
from drills.reporting.seal import (
    MANIFEST_NAME,
    PUBLIC_KEY_NAME,
    SIGNATURE_NAME,
    digest_files,
    seal_run,
    tarball_path,
    verify_path,
)
from drills.reporting.signing_key import fingerprint

SEALED_AT = "2026-03-01T12:00:00+00:00"


def write_run(reports: Path, run_id: str = "20260301-120000") -> Path:
    """A small run directory: a real journal.json, junit.xml, a report and an Allure result."""
    record = DrillRecord(
        "pod-kill", "§3.2", "shop", "P1", Verdict.PASS, "recovered", SEALED_AT, SEALED_AT, 42.0
    )
    run_dir = reports / run_id
    (run_dir / "allure-results").mkdir(parents=True)
    (run_dir / "journal.json").write_text(
        RunJournal(run_id, "sandbox", SEALED_AT, (record,)).to_json(), encoding="utf-8"
    )
    (run_dir / "junit.xml").write_text("<testsuites/>\n", encoding="utf-8")
    (run_dir / "report.html").write_text("<html>PASS</html>\n", encoding="utf-8")
    (run_dir / "allure-results" / "1-result.json").write_text("{}", encoding="utf-8")
    return run_dir


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def sealed(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    run_dir = write_run(tmp_path / "reports")
    seal_run(run_dir, key, sealed_by="ada@host", sealed_at=SEALED_AT)
    return run_dir


def test_seal_signs_every_file_and_writes_the_tarball_beside_the_run(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    run_dir = write_run(tmp_path / "reports")
    manifest, tarball = seal_run(run_dir, key, sealed_by="ada@host", sealed_at=SEALED_AT)
    assert manifest.run_id == "20260301-120000"  # read from journal.json
    assert manifest.key_fingerprint == fingerprint(key.public_key())
    assert [f.path for f in manifest.files] == [
        "allure-results/1-result.json",
        "journal.json",
        "junit.xml",
        "report.html",
    ]
    assert tarball == tmp_path / "reports" / "20260301-120000.sealed.tar.gz"
    assert tarball == tarball_path(run_dir)
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    assert f"20260301-120000/{MANIFEST_NAME}" in names
    assert "20260301-120000/journal.json" in names
    assert not list((tmp_path / "reports").glob(".*.tmp"))


def test_a_sealed_run_verifies_with_the_key_it_ships(sealed: Path) -> None:
    found = verify_path(sealed, None)
    assert found.ok, found.lines()
    assert found.lines() == []
    assert found.key_source == "the pack's own public key"
    assert found.manifest is not None
    assert found.manifest.sealed_by == "ada@host"


def test_sealing_again_leaves_the_seal_files_out_of_the_manifest(
    sealed: Path, key: Ed25519PrivateKey
) -> None:
    (sealed / "notes.txt").write_text("added before the second seal", encoding="utf-8")
    manifest, _ = seal_run(sealed, key, sealed_by="ada@host", sealed_at=SEALED_AT)
    paths = {f.path for f in manifest.files}
    assert "notes.txt" in paths
    assert paths.isdisjoint({MANIFEST_NAME, SIGNATURE_NAME, PUBLIC_KEY_NAME})
    assert verify_path(sealed, None).ok


def _flip_one_byte(run_dir: Path) -> None:
    path = run_dir / "journal.json"
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.write_bytes(bytes(data))


def _remove(run_dir: Path) -> None:
    (run_dir / "report.html").unlink()


def _add(run_dir: Path) -> None:
    (run_dir / "allure-results" / "2-result.json").write_text("{}", encoding="utf-8")


def _sign_with_another_key(run_dir: Path) -> None:
    other = Ed25519PrivateKey.generate().sign((run_dir / MANIFEST_NAME).read_bytes())
    (run_dir / SIGNATURE_NAME).write_bytes(base64.b64encode(other) + b"\n")


def _garbage_signature(run_dir: Path) -> None:
    (run_dir / SIGNATURE_NAME).write_bytes(b"this is not a signature\n")


def _short_signature(run_dir: Path) -> None:
    (run_dir / SIGNATURE_NAME).write_bytes(base64.b64encode(b"\x00" * 12) + b"\n")


def _edit_manifest(run_dir: Path) -> None:
    path = run_dir / MANIFEST_NAME
    data = json.loads(path.read_bytes())
    data["sealed_by"] = "mallory@elsewhere"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _remove_signature(run_dir: Path) -> None:
    (run_dir / SIGNATURE_NAME).unlink()


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (_flip_one_byte, "changed: journal.json (sha256"),
        (_remove, "missing: report.html"),
        (_add, "added: allure-results/2-result.json"),
        (_sign_with_another_key, f"{SIGNATURE_NAME}: bad signature: {MANIFEST_NAME}"),
        (_garbage_signature, f"{SIGNATURE_NAME}: not base64"),
        (_short_signature, f"{SIGNATURE_NAME}: bad signature"),
        (_edit_manifest, f"{MANIFEST_NAME} was not signed by"),
        (_remove_signature, f"{SIGNATURE_NAME}: missing"),
    ],
    ids=lambda v: getattr(v, "__name__", "").lstrip("_") or None,
)
def test_tampering_fails_verification_naming_the_file(
    sealed: Path, tamper: Callable[[Path], None], named: str
) -> None:
    tamper(sealed)
    found = verify_path(sealed, None)
    assert not found.ok
    assert any(named in line for line in found.lines()), found.lines()


def test_only_the_tampered_file_is_named(sealed: Path) -> None:
    _flip_one_byte(sealed)
    lines = verify_path(sealed, None).lines()
    assert len(lines) == 1
    assert lines[0].startswith("changed: journal.json")


def test_the_tarball_verifies_elsewhere_with_the_public_key(
    tmp_path: Path, sealed: Path, key: Ed25519PrivateKey
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    moved = Path(shutil.move(tarball_path(sealed), archive))
    shutil.rmtree(tmp_path / "reports")
    found = verify_path(moved, key.public_key())
    assert found.ok, found.lines()
    assert found.key_source == "the public key given"


def test_the_tarball_does_not_verify_with_another_public_key(sealed: Path) -> None:
    found = verify_path(tarball_path(sealed), Ed25519PrivateKey.generate().public_key())
    assert not found.ok
    assert found.lines()[0].startswith(f"{SIGNATURE_NAME}: bad signature")


def test_a_resealed_copy_passes_on_its_own_key_but_not_on_the_signers(
    sealed: Path, key: Ed25519PrivateKey
) -> None:
    _flip_one_byte(sealed)
    seal_run(sealed, Ed25519PrivateKey.generate(), sealed_by="mallory", sealed_at=SEALED_AT)
    assert verify_path(sealed, None).ok  # the pack's own key only proves the files are as sealed
    assert not verify_path(sealed, key.public_key()).ok  # the signer's key proves who sealed


def test_a_tampered_tarball_names_the_file(tmp_path: Path, sealed: Path) -> None:
    _flip_one_byte(sealed)
    tarball = tmp_path / "tampered.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(sealed, arcname=sealed.name)
    lines = verify_path(tarball, None).lines()
    assert lines == [lines[0]]
    assert lines[0].startswith("changed: journal.json")


def test_a_tarball_without_one_run_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a", encoding="utf-8")
    tarball = tmp_path / "loose.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tmp_path / "a.txt", arcname="a.txt")
    with pytest.raises(ValueError, match="does not hold one run directory"):
        verify_path(tarball, None)


def test_an_unsealed_run_says_so(tmp_path: Path) -> None:
    found = verify_path(write_run(tmp_path / "reports"), None)
    assert not found.ok
    assert found.manifest is None
    assert found.lines()[0].startswith(f"{MANIFEST_NAME}: unreadable or missing")


def test_without_the_shipped_public_key_a_given_one_is_needed(
    sealed: Path, key: Ed25519PrivateKey
) -> None:
    (sealed / PUBLIC_KEY_NAME).unlink()
    found = verify_path(sealed, None)
    assert not found.ok
    assert found.lines()[0].startswith(PUBLIC_KEY_NAME)
    assert "--public-key" in found.lines()[0]
    assert verify_path(sealed, key.public_key()).ok


def test_digests_cover_nested_files_and_skip_the_seal_and_directories(sealed: Path) -> None:
    found = digest_files(sealed)
    assert set(found) == {
        "allure-results/1-result.json",
        "journal.json",
        "junit.xml",
        "report.html",
    }
    assert found["junit.xml"].size == len("<testsuites/>\n")
