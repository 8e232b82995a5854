"""The Ed25519 key that seals evidence: where it lives, creating it once, loading it.

Where, first found wins: the variable DRILLS_SIGNING_KEY (a PEM path), the profile's
`[evidence] signing_key`, else ~/.config/drills/signing-key.pem. A missing key file is created
(mode 0600, in a 0700 directory) and the caller tells the user where it is and how to back it up.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "KEY_VARIABLE",
    "KeyLocation",
    "fingerprint",
    "load_or_create",
    "load_public_key",
    "locate_key",
    "public_pem",
]

KEY_VARIABLE = "DRILLS_SIGNING_KEY"
DEFAULT_KEY = Path(".config") / "drills" / "signing-key.pem"


@dataclass(frozen=True)
class KeyLocation:
    """The key's path and what chose it (the variable, the profile, the default)."""

    path: Path
    source: str


def locate_key(environ: Mapping[str, str], profile_key: Path | None, home: Path) -> KeyLocation:
    """Where the signing key is (see the module docstring for the order)."""
    if environ.get(KEY_VARIABLE):
        return KeyLocation(Path(environ[KEY_VARIABLE]).expanduser(), f"${KEY_VARIABLE}")
    if profile_key is not None:
        return KeyLocation(profile_key, "the profile's [evidence] signing_key")
    return KeyLocation(home / DEFAULT_KEY, "the default location")


def load_or_create(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The private key at `path`, created first if missing; (key, created).

    Raises ValueError when the file is not an unencrypted Ed25519 PEM private key.
    """
    if path.exists():
        return _load_private(path), False
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key, True


def _load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"{path} is not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_public_key(data: bytes, where: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM bytes; raises ValueError naming `where`."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"{where} is not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{where} holds a {type(key).__name__}, not an Ed25519 public key")
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    """The public key as PEM (SubjectPublicKeyInfo), for the sealed pack."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(key: Ed25519PublicKey) -> str:
    """sha256 of the raw 32-byte public key, as hex: what the manifest names its signer by."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()
