"""A trainee's own identities in the sandbox, so the evidence tells them from everyone else.

Kubernetes: a client certificate from the sandbox's CA with CN `drills-trainee:<name>` and
O `system:masters`, in a self-contained kubeconfig at `.drills/certify/<name>/kubeconfig`
(certificate and key embedded, mode 0600). The audit log names the CN as the user, so
`read_audit_log(path, kube_user(name))` returns only what the trainee did. Certificates cannot be
revoked: `remove_trainee` deletes the kubeconfig, and every `drills sandbox up` makes a new CA,
which ends all earlier certificates.

PostgreSQL: the role `trainee_<name>` with `log_statement = 'all'`
(`drills.targets.adapters.trainee_role`), reached with `trainee_dsn`.

AWS (moto in the sandbox): the access key id `drills-trainee-<name>` (`aws_access_key`), kept
in moto's request recording with every request the trainee signs.

The same kubeconfig shape also carries a bearer token (`issue_token_kubeconfig`): a
ServiceAccount's restricted identity, such as the drills' own least-privilege operator.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from drills.core.errors import ConfigError
from drills.sandbox.certs import Pki
from drills.targets.adapters.trainee_role import (
    create_trainee_role,
    drop_trainee_role,
    trainee_dsn,
)

__all__ = [
    "TRAINEE_GROUPS",
    "TraineeIdentity",
    "aws_access_key",
    "db_role",
    "issue_kubeconfig",
    "issue_token_kubeconfig",
    "kube_user",
    "provision_trainee",
    "remove_trainee",
]

TRAINEE_GROUPS = ("system:masters",)
_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")


def _checked(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"trainee name {name!r}: use 1-31 lower-case letters, digits or '-', starting with "
            "a letter (e.g. --trainee alice)"
        )
    return name


def kube_user(name: str) -> str:
    """The Kubernetes user the trainee's certificate names: `drills-trainee:<name>`."""
    return f"drills-trainee:{_checked(name)}"


def db_role(name: str) -> str:
    """The PostgreSQL role of the trainee: `trainee_<name>` (`-` becomes `_`)."""
    return "trainee_" + _checked(name).replace("-", "_")


def aws_access_key(name: str) -> str:
    """The AWS access key id the trainee signs with: `drills-trainee-<name>`.

    moto accepts any key; its request recording keeps each signed request's key, so the
    grade reads only the trainee's AWS calls, not the harness's.
    """
    return f"drills-trainee-{_checked(name)}"


@dataclass(frozen=True)
class TraineeIdentity:
    """Where a trainee's identities are and what the evidence readers filter on."""

    name: str
    kube_user: str
    kubeconfig: Path
    db_role: str
    dsn: str | None


def issue_kubeconfig(name: str, *, sandbox_state: Path, certify_dir: Path) -> Path:
    """Issue the trainee's certificate from the running sandbox's CA; write their kubeconfig.

    `sandbox_state` is `.drills/sandbox` (its `pki/` and admin `kubeconfig` give the CA, the
    server and the namespace); the kubeconfig goes to `<certify_dir>/<name>/kubeconfig`.
    Raises FileNotFoundError when the sandbox is not up.
    """
    user = kube_user(name)
    admin = _admin_kubeconfig(sandbox_state / "kubeconfig")
    pki = Pki.load(sandbox_state / "pki")
    pair = pki.client(f"trainee-{name}-client", user, TRAINEE_GROUPS)
    try:
        cert, key = pair.cert.read_bytes(), pair.key.read_bytes()
    finally:  # the kubeconfig carries them; leave no copy in the sandbox's pki/
        pair.cert.unlink(missing_ok=True)
        pair.key.unlink(missing_ok=True)
    path = certify_dir / name / "kubeconfig"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    credentials = {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)}
    config = _kubeconfig(admin, user, pki.ca.read_bytes(), credentials)
    path.write_text(json.dumps(config, indent=2))
    return path


def issue_token_kubeconfig(user: str, token: str, *, sandbox_state: Path, path: Path) -> Path:
    """Write a kubeconfig for the running sandbox that authenticates with a bearer `token`.

    For a ServiceAccount's token (`kubectl create token NAME`), e.g. to run the drills as the
    `drills-operator` ServiceAccount of `fixtures/rbac/drills-operator.yaml`. Server, CA,
    context name and namespace are the admin kubeconfig's, so the profile's context allowlist
    accepts it; `user` only names the entry. Mode 0600: the token is a credential.
    """
    admin = _admin_kubeconfig(sandbox_state / "kubeconfig")
    ca = Pki.load(sandbox_state / "pki").ca.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(_kubeconfig(admin, user, ca, {"token": token}), indent=2))
    return path


def _admin_kubeconfig(path: Path) -> dict[str, object]:
    if not path.is_file():
        raise FileNotFoundError(f"no sandbox kubeconfig at {path}; run `drills sandbox up`")
    config = json.loads(path.read_text())
    context = config["contexts"][0]["context"]
    return {
        "server": config["clusters"][0]["cluster"]["server"],
        "namespace": context.get("namespace", "default"),
        "context": config["contexts"][0]["name"],
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _kubeconfig(
    admin: dict[str, object], user: str, ca: bytes, credentials: dict[str, str]
) -> dict[str, object]:
    context = str(admin["context"])
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {"server": admin["server"], "certificate-authority-data": _b64(ca)},
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": user, "namespace": admin["namespace"]},
            }
        ],
        "current-context": context,
    }


def provision_trainee(
    name: str, *, sandbox_state: Path, certify_dir: Path, admin_dsn: str | None
) -> TraineeIdentity:
    """Both identities at once: the kubeconfig, and the database role when a DSN is given."""
    kubeconfig = issue_kubeconfig(name, sandbox_state=sandbox_state, certify_dir=certify_dir)
    role = db_role(name)
    dsn = None
    if admin_dsn is not None:
        create_trainee_role(admin_dsn, role)
        dsn = trainee_dsn(admin_dsn, role)
    return TraineeIdentity(name, kube_user(name), kubeconfig, role, dsn)


def remove_trainee(name: str, *, certify_dir: Path, admin_dsn: str | None) -> None:
    """Delete the trainee's kubeconfig folder and drop their database role (if a DSN is given).

    Records elsewhere (reports/certification/) are kept.
    """
    shutil.rmtree(certify_dir / _checked(name), ignore_errors=True)
    if admin_dsn is not None:
        drop_trainee_role(admin_dsn, db_role(name))
