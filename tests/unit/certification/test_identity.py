"""The trainee's identities: names, a kubeconfig issued from the sandbox's CA, the DSN."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from drills.certification.identity import db_role, issue_kubeconfig, kube_user, remove_trainee
from drills.core.errors import ConfigError
from drills.sandbox.certs import Pki
from drills.sandbox.controlplane import write_kubeconfig
from drills.targets.adapters.trainee_role import trainee_dsn


def test_names() -> None:
    assert kube_user("alice") == "drills-trainee:alice"
    assert db_role("bob-2") == "trainee_bob_2"
    for bad in ("", "Alice", "a b", "x" * 40, "-a", "a;drop"):
        with pytest.raises(ConfigError, match="trainee name"):
            kube_user(bad)


def test_the_trainee_dsn_keeps_the_server_and_drops_the_password() -> None:
    admin = "postgresql://postgres:secret@127.0.0.1:5544/shop?connect_timeout=3"
    assert trainee_dsn(admin, "trainee_alice") == (
        "postgresql://trainee_alice@127.0.0.1:5544/shop?connect_timeout=3"
    )
    with pytest.raises(ConfigError, match="URI"):
        trainee_dsn("host=localhost dbname=shop", "trainee_alice")
    with pytest.raises(ConfigError, match="plain PostgreSQL name"):
        trainee_dsn(admin, 'x"; DROP ROLE postgres; --')


@pytest.fixture
def sandbox_state(tmp_path: Path) -> Path:
    """A sandbox state folder as `drills sandbox up` leaves it: pki/ and the admin kubeconfig."""
    state = tmp_path / "sandbox"
    pki = Pki.create(state / "pki")
    admin = pki.client("admin-client", "drills-admin", ("system:masters",))
    write_kubeconfig(
        state / "kubeconfig",
        server="https://10.244.1.1:6443",
        ca=pki.ca,
        client=admin,
        user="drills-admin",
        namespace="shop-ns",
    )
    return state


def test_the_kubeconfig_names_the_trainee_and_carries_its_own_certificate(
    sandbox_state: Path, tmp_path: Path
) -> None:
    before = sorted(p.name for p in (sandbox_state / "pki").iterdir())
    path = issue_kubeconfig("alice", sandbox_state=sandbox_state, certify_dir=tmp_path / "certify")
    assert path == tmp_path / "certify" / "alice" / "kubeconfig"
    assert path.stat().st_mode & 0o777 == 0o600
    config = json.loads(path.read_text())
    assert config["clusters"][0]["cluster"]["server"] == "https://10.244.1.1:6443"
    assert config["contexts"][0]["context"]["namespace"] == "shop-ns"
    assert config["users"][0]["name"] == "drills-trainee:alice"
    pem = base64.b64decode(config["users"][0]["user"]["client-certificate-data"])
    cert = x509.load_pem_x509_certificate(pem)
    assert (
        cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "drills-trainee:alice"
    )
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters"]
    ca = x509.load_pem_x509_certificate((sandbox_state / "pki" / "ca.crt").read_bytes())
    assert cert.issuer == ca.subject
    # Nothing of the trainee's is left in the sandbox's own pki/.
    assert sorted(p.name for p in (sandbox_state / "pki").iterdir()) == before
    remove_trainee("alice", certify_dir=tmp_path / "certify", admin_dsn=None)
    assert not path.parent.exists()


def test_no_sandbox_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="drills sandbox up"):
        issue_kubeconfig("alice", sandbox_state=tmp_path, certify_dir=tmp_path / "certify")
