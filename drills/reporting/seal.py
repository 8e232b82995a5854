"""Seal a run's evidence (manifest, Ed25519 signature, tarball) and verify it later, anywhere.

A sealed run directory holds `manifest.json` (every other file with its sha256 and size),
`manifest.sig` (base64 Ed25519 signature over the manifest's bytes) and `manifest.pub.pem`
(the public half of the key). `reports/<run>.sealed.tar.gz` carries the directory as it is.
Verifying against the shipped public key proves the files are the ones sealed; verifying with
`--public-key` (a key obtained apart from the pack) also proves who sealed them.
"""

from __future__ import annotations

import base64
import binascii
import json
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from drills.core.manifest import FileDigest, Manifest, ManifestDiff, compare
from drills.core.provenance import sha256_hex
from drills.reporting.signing_key import fingerprint, load_public_key, public_pem

__all__ = [
    "MANIFEST_NAME",
    "PUBLIC_KEY_NAME",
    "SIGNATURE_NAME",
    "Verification",
    "digest_files",
    "seal_run",
    "tarball_path",
    "verify_path",
]

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
PUBLIC_KEY_NAME = "manifest.pub.pem"
_SEAL_FILES = frozenset({MANIFEST_NAME, SIGNATURE_NAME, PUBLIC_KEY_NAME})
TARBALL_SUFFIX = ".sealed.tar.gz"


def tarball_path(run_dir: Path) -> Path:
    """`reports/<run>.sealed.tar.gz` beside the run directory."""
    return run_dir.parent / f"{run_dir.name}{TARBALL_SUFFIX}"


def digest_files(run_dir: Path) -> dict[str, FileDigest]:
    """Every regular file under `run_dir` except the seal's own three, keyed by relative path."""
    found = {}
    for path in sorted(run_dir.rglob("*")):
        relative = path.relative_to(run_dir).as_posix()
        if relative in _SEAL_FILES or not path.is_file():  # directories, sockets, fifos
            continue
        data = path.read_bytes()
        found[relative] = FileDigest(relative, sha256_hex(data), len(data))
    return found


def _run_id(run_dir: Path) -> str:
    try:
        return str(json.loads((run_dir / "journal.json").read_text("utf-8"))["run_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return run_dir.name


def seal_run(
    run_dir: Path, key: Ed25519PrivateKey, *, sealed_by: str, sealed_at: str
) -> tuple[Manifest, Path]:
    """Write manifest.json, manifest.sig and manifest.pub.pem, then the tarball; return both."""
    manifest = Manifest(
        run_id=_run_id(run_dir),
        sealed_by=sealed_by,
        sealed_at=sealed_at,
        key_fingerprint=fingerprint(key.public_key()),
        files=tuple(digest_files(run_dir).values()),
    )
    body = manifest.to_bytes()
    (run_dir / MANIFEST_NAME).write_bytes(body)
    (run_dir / SIGNATURE_NAME).write_bytes(base64.b64encode(key.sign(body)) + b"\n")
    (run_dir / PUBLIC_KEY_NAME).write_bytes(public_pem(key.public_key()))
    out = tarball_path(run_dir)
    tmp = out.with_name(f".{out.name}.tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        tar.add(run_dir, arcname=run_dir.name)
    tmp.replace(out)
    return manifest, out


@dataclass(frozen=True)
class Verification:
    """What verifying found: the manifest (if readable), file differences, signature problems."""

    manifest: Manifest | None
    diff: ManifestDiff
    problems: tuple[str, ...]
    key_source: str

    @property
    def ok(self) -> bool:
        """True when the signature is good and every file matches."""
        return not self.problems and self.diff.matches

    def lines(self) -> list[str]:
        """One line per problem, then one per file difference."""
        return [*self.problems, *self.diff.lines()]


def verify_path(target: Path, public_key: Ed25519PublicKey | None) -> Verification:
    """Verify a sealed run directory or a `.sealed.tar.gz`; `public_key` None: the shipped one.

    Raises ValueError when a tarball is not a sealed run (no single top directory).
    """
    if target.is_dir():
        return _verify_dir(target, public_key)
    with tempfile.TemporaryDirectory(prefix="drills-verify-") as scratch:
        with tarfile.open(target, "r:gz") as tar:
            tar.extractall(scratch, filter="data")  # no absolute paths, links out or devices
        tops = list(Path(scratch).iterdir())
        if len(tops) != 1 or not tops[0].is_dir():
            raise ValueError(f"{target} does not hold one run directory; was it made by seal?")
        return _verify_dir(tops[0], public_key)


def _verify_dir(run_dir: Path, public_key: Ed25519PublicKey | None) -> Verification:
    found = digest_files(run_dir)
    try:
        body = (run_dir / MANIFEST_NAME).read_bytes()
        manifest = Manifest.from_bytes(body)
    except (OSError, ValueError) as exc:
        problem = f"{MANIFEST_NAME}: unreadable or missing ({exc}); was the run sealed?"
        return Verification(None, ManifestDiff(), (problem,), "")
    key, source, problems = _key(run_dir, public_key)
    if key is not None:
        problems += _signature_problems(run_dir, body, manifest, key)
    return Verification(manifest, compare(manifest, found), tuple(problems), source)


def _key(
    run_dir: Path, public_key: Ed25519PublicKey | None
) -> tuple[Ed25519PublicKey | None, str, list[str]]:
    if public_key is not None:
        return public_key, "the public key given", []
    path = run_dir / PUBLIC_KEY_NAME
    try:
        return load_public_key(path.read_bytes(), str(path.name)), "the pack's own public key", []
    except (OSError, ValueError) as exc:
        return None, "", [f"{PUBLIC_KEY_NAME}: {exc}; pass --public-key"]


def _signature_problems(
    run_dir: Path, body: bytes, manifest: Manifest, key: Ed25519PublicKey
) -> list[str]:
    try:
        # seal writes one base64 line; strict decoding after the newline refuses anything else
        encoded = (run_dir / SIGNATURE_NAME).read_bytes().strip()
        signature = base64.b64decode(encoded, validate=True)
    except OSError:
        return [f"{SIGNATURE_NAME}: missing, so nothing proves the manifest"]
    except binascii.Error:
        return [f"{SIGNATURE_NAME}: not base64, so it is not the signature seal wrote"]
    try:
        key.verify(signature, body)
    except InvalidSignature:
        return [
            f"{SIGNATURE_NAME}: bad signature: {MANIFEST_NAME} was not signed by "
            f"{fingerprint(key)[:16]}… or was edited after sealing"
        ]
    if fingerprint(key) != manifest.key_fingerprint:  # a key that signed but is not the one named
        return [f"{MANIFEST_NAME}: names key {manifest.key_fingerprint[:16]}…, not this one"]
    return []
