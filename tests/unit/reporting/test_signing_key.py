"""The signing key: where it is looked for, created once and privately, refused when not Ed25519."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drills.reporting.signing_key import (
    KEY_VARIABLE,
    KeyLocation,
    fingerprint,
    load_or_create,
    load_public_key,
    locate_key,
    public_pem,
)

HOME = Path("/home/ada")
PROFILE_KEY = Path("/etc/drills/staging-key.pem")


def test_the_variable_wins_over_the_profile_and_the_default() -> None:
    found = locate_key({KEY_VARIABLE: "/keys/ci.pem"}, PROFILE_KEY, HOME)
    assert found == KeyLocation(Path("/keys/ci.pem"), f"${KEY_VARIABLE}")


def test_the_profile_wins_over_the_default() -> None:
    found = locate_key({}, PROFILE_KEY, HOME)
    assert found == KeyLocation(PROFILE_KEY, "the profile's [evidence] signing_key")


@pytest.mark.parametrize("environ", [{}, {KEY_VARIABLE: ""}], ids=["unset", "empty"])
def test_the_default_is_under_the_users_config(environ: dict[str, str]) -> None:
    found = locate_key(environ, None, HOME)
    assert found == KeyLocation(HOME / ".config/drills/signing-key.pem", "the default location")


def test_a_missing_key_is_created_private_then_loaded_again(tmp_path: Path) -> None:
    path = tmp_path / "config" / "drills" / "signing-key.pem"
    key, created = load_or_create(path)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again, created_again = load_or_create(path)
    assert not created_again
    assert fingerprint(again.public_key()) == fingerprint(key.public_key())


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_garbage_is_not_a_key(tmp_path: Path) -> None:
    path = _write(tmp_path / "key.pem", b"not a key at all\n")
    with pytest.raises(ValueError, match="is not an unencrypted PEM private key") as raised:
        load_or_create(path)
    assert str(path) in str(raised.value)


def test_an_ec_key_is_refused_as_not_ed25519(tmp_path: Path) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = _write(tmp_path / "ec.pem", pem)
    with pytest.raises(ValueError, match="not an Ed25519 key"):
        load_or_create(path)


def test_an_encrypted_key_is_refused(tmp_path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    path = _write(tmp_path / "locked.pem", pem)
    with pytest.raises(ValueError, match="unencrypted"):
        load_or_create(path)


def test_a_public_key_round_trips_through_pem() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    assert fingerprint(load_public_key(public_pem(key), "signer.pem")) == fingerprint(key)


def test_a_public_key_that_is_not_one_names_where_it_came_from() -> None:
    with pytest.raises(ValueError, match=r"signer\.pem is not a PEM public key"):
        load_public_key(b"garbage", "signer.pem")
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="not an Ed25519 public key"):
        load_public_key(ec_pem, "ec.pem")


def test_the_fingerprint_is_the_sha256_of_the_raw_public_key() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert fingerprint(key) == hashlib.sha256(raw).hexdigest()
