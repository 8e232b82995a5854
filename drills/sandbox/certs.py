"""The sandbox's certificate authority, made with `cryptography`.

One CA signs everything the sandbox's TLS needs: the API server's serving certificate, the
client certificates of the admin, the controller manager, the scheduler, each node and the
API server's own client identities (towards kubelets and aggregated APIs), and the serving
certificates of the kubelets and the aggregated API servers. Identities follow what upstream
authorisers expect: the common name is the user, organisations are groups (``system:masters``,
``system:nodes``...).

Keys are ECDSA P-256 (fast to generate, accepted by every Kubernetes component); files live in
``<state>/pki/`` with mode 0600 for keys. The service-account signing key is RSA, as the API
server's `--service-account-signing-key-file` expects either; RSA keeps `kubectl create token`
output familiar.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from drills.core.clock import SystemClock

__all__ = ["CertPair", "Pki"]

_VALIDITY = datetime.timedelta(days=365)
_SKEW = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class CertPair:
    """A certificate and its private key on disk."""

    cert: Path
    key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.touch(mode=0o600)
    path.write_bytes(data)


def _name(common_name: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in orgs]
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(parts)


def _sans(ips: tuple[str, ...], dns: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    return x509.SubjectAlternativeName(names)


class Pki:
    """A CA under one folder, issuing the sandbox's certificates on demand."""

    def __init__(self, folder: Path, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey):
        """Use `create` or `load`; this binds an existing CA."""
        self.folder = folder
        self._ca_cert = ca_cert
        self._ca_key = ca_key

    @property
    def ca(self) -> Path:
        """The CA certificate every client and server trusts."""
        return self.folder / "ca.crt"

    @classmethod
    def create(cls, folder: Path) -> Pki:
        """A new CA in `folder` (replacing any earlier one)."""
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = SystemClock().wall()
        subject = _name("drills-sandbox-ca")
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _SKEW)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        (folder / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(folder / "ca.key", key)
        return cls(folder, cert, key)

    @classmethod
    def load(cls, folder: Path) -> Pki:
        """The CA a running sandbox made in `folder` (to issue more identities from it)."""
        cert_path, key_path = folder / "ca.crt", folder / "ca.key"
        if not cert_path.is_file() or not key_path.is_file():
            raise FileNotFoundError(
                f"no sandbox CA in {folder} (ca.crt and ca.key); bring the sandbox up first: "
                "drills sandbox up"
            )
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{key_path} is not the sandbox's ECDSA CA key")
        return cls(folder, x509.load_pem_x509_certificate(cert_path.read_bytes()), key)

    def _issue(
        self,
        name: str,
        subject: x509.Name,
        usage: ObjectIdentifier,
        sans: x509.SubjectAlternativeName | None,
    ) -> CertPair:
        key = ec.generate_private_key(ec.SECP256R1())
        now = SystemClock().wall()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _SKEW)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if sans is not None:
            builder = builder.add_extension(sans, critical=False)
        cert = builder.sign(self._ca_key, hashes.SHA256())
        pair = CertPair(self.folder / f"{name}.crt", self.folder / f"{name}.key")
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(pair.key, key)
        return pair

    def client(self, name: str, user: str, groups: tuple[str, ...] = ()) -> CertPair:
        """A client certificate for `user` in `groups`, saved as ``<name>.crt``/``.key``."""
        return self._issue(name, _name(user, groups), ExtendedKeyUsageOID.CLIENT_AUTH, None)

    def serving(self, name: str, *, ips: tuple[str, ...], dns: tuple[str, ...] = ()) -> CertPair:
        """A serving certificate valid for `ips` and `dns` names."""
        sans = _sans(ips, dns)
        subject = _name(dns[0] if dns else ips[0])
        return self._issue(name, subject, ExtendedKeyUsageOID.SERVER_AUTH, sans)

    def service_account_key(self) -> Path:
        """The RSA key that signs service-account tokens (its public half verifies them)."""
        path = self.folder / "sa.key"
        if not path.exists():
            _write_key(path, rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return path
