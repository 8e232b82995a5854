"""The pure part of a credential rotation (RUNBOOKS.md §3.14): passwords, URLs, orders, verdicts.

The seed's rotation ([002] § Secret Rotation) generates a password, creates a second Secret,
points the Deployment at it, restarts, and renames the Secret; it never changes the password in
PostgreSQL (RUNBOOKS.md §5.1 leaves the placement of that step to us). PostgreSQL 16 keeps one
password per role, so for the old and the new credential to overlap the new one is a second
login role beside the old one (both members of the role that owns the data): the old keeps
working until no pod carries it, then it is revoked. That is the `runbook` order. The
`wrong-order` variant changes the password of the running role in the database first, as the
seed's single-username Secret invites: every login with the credential the running pods carry
is refused until they are replaced.

Nothing here keeps a password longer than the caller does; `fingerprint` is what files keep.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote, urlsplit, urlunsplit

from drills.core.errors import ConfigError
from drills.core.safety import JsonScalar

__all__ = [
    "SECRET_ROTATION_KIND",
    "LoginAttempt",
    "LoginRecord",
    "RotationOrder",
    "RotationPlan",
    "fingerprint",
    "judge_logins",
    "new_password",
    "role_of",
    "with_credential",
]

PASSWORD_BYTES = 32  # `openssl rand -base64 32` [002] § Secret Rotation
SECRET_ROTATION_KIND = "secret-rotation"


class RotationOrder(Enum):
    """Which order the drill performs the database change in (the drill's variants)."""

    RUNBOOK = "runbook"
    WRONG_ORDER = "wrong-order"

    def describe(self) -> str:
        """The order as a sentence, for the report and a FAIL reason."""
        if self is RotationOrder.RUNBOOK:
            return (
                "new credential created in PostgreSQL beside the old one, then the new Secret, "
                "the pods restarted on it, and the old credential revoked only once no pod "
                "carried it"
            )
        return (
            "the password was changed in PostgreSQL before the Secret and the pods were updated "
            "(wrong order: the new credential must exist beside the old one until every pod "
            "runs with the new Secret)"
        )


def new_password(nbytes: int = PASSWORD_BYTES) -> str:
    """A fresh password: `nbytes` random bytes in base64, as `openssl rand -base64 32` prints."""
    return base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def with_credential(url: str, user: str, password: str) -> str:
    """`url` (a libpq URI) logging in as `user` with `password` (percent-encoded, `+/=` too)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def role_of(url: str | None) -> str:
    """The user name a libpq URI logs in as ("" when it names none)."""
    return (urlsplit(url).username or "") if url else ""


def fingerprint(value: str | None) -> str:
    """SHA-256 of a Secret's value: what a ledger keeps to recognise it, never the value."""
    return hashlib.sha256((value or "").encode()).hexdigest()


@dataclass(frozen=True)
class LoginAttempt:
    """One real login with a credential the running pods carry: when, and what the server said."""

    at_s: float  # drill clock
    credential: str  # "old" or "new": never the password
    role: str
    accepted: bool
    detail: str


@dataclass
class LoginRecord:
    """Every login attempt made with the credentials in service during the rotation."""

    attempts: list[LoginAttempt]

    @property
    def refused(self) -> list[LoginAttempt]:
        """The attempts the server refused."""
        return [a for a in self.attempts if not a.accepted]

    def first_refused(self) -> LoginAttempt | None:
        """The earliest refusal, if any."""
        refused = self.refused
        return min(refused, key=lambda a: a.at_s) if refused else None

    def summary(self, since_s: float) -> str:
        """How many attempts were refused, when (seconds after `since_s`) and why."""
        refused = self.refused
        if not refused:
            return f"all {len(self.attempts)} logins with the pods' credentials were accepted"
        first, last = refused[0], refused[-1]
        said = first.detail or "refused"
        return (
            f"{len(refused)} of {len(self.attempts)} logins with the credential the running pods "
            f"carried were refused ({first.credential} credential, role {first.role}), from "
            f"+{first.at_s - since_s:.1f} s to +{last.at_s - since_s:.1f} s: {said}"
        )


def judge_logins(
    record: LoginRecord,
    order: RotationOrder,
    *,
    since_s: float,
    user_failures: int,
) -> str | None:
    """Why the rotation failed its users' logins, or None when every login was accepted.

    A credential the running pods carry must log in for as long as they run: a refusal means
    any reconnect, restart or scale-out in that window fails. The reason names the order the
    drill performed and the user-side failures counted over the rotation.
    """
    if not record.refused:
        return None
    users = (
        f"users saw {user_failures} failed requests during the rotation"
        if user_failures
        else "users saw no failed request only because the pods kept their open connections"
    )
    return (
        f"the database refused the credential the running pods carry: {record.summary(since_s)}; "
        f"{users}. Order performed: {order.describe()}"
    )


@dataclass(frozen=True)
class RotationPlan:
    """The names a rotation touches, and how to recognise the Secret's value before it began.

    This is what the rollback ledger keeps (`args()`): names, a SHA-256 of the original URL
    (the URL itself is kept in the cluster, in Secret `kept_secret`, where secrets belong), and
    the superuser DSN without its password. Never a password.
    """

    namespace: str
    deployment: str
    roles: tuple[str, ...]  # the login roles the rotation may create: dropped by the rollback
    original_sha256: str
    admin_dsn: str  # without its password (libpq reads PGPASSWORD or ~/.pgpass on a replay)
    secret: str = "shop-database"
    new_secret: str = "shop-database-new"
    kept_secret: str = "shop-database-drills-kept"
    application_name: str = "shop"

    @property
    def target(self) -> str:
        """`namespace/secret/name`: what the rollback entry names."""
        return f"{self.namespace}/secret/{self.secret}"

    def args(self) -> dict[str, JsonScalar]:
        """The ledger entry's arguments."""
        return {
            "namespace": self.namespace,
            "deployment": self.deployment,
            "roles": ",".join(self.roles),
            "original_sha256": self.original_sha256,
            "admin_dsn": self.admin_dsn,
            "secret": self.secret,
            "new_secret": self.new_secret,
            "kept_secret": self.kept_secret,
            "application_name": self.application_name,
        }

    @classmethod
    def from_args(cls, args: Mapping[str, JsonScalar]) -> RotationPlan:
        """Read a ledger entry's arguments back; ConfigError names what is missing."""
        needed = ("namespace", "deployment", "roles", "original_sha256", "admin_dsn")
        missing = [name for name in needed if not args.get(name)]
        if missing:
            raise ConfigError(
                f"the {SECRET_ROTATION_KIND} entry lacks {', '.join(missing)}; restore the shop's "
                "Secret from secret/shop-database-drills-kept by hand, then drop the "
                "shop_login_* roles"
            )
        text = {name: str(value) for name, value in args.items() if value is not None}
        return cls(
            namespace=text["namespace"],
            deployment=text["deployment"],
            roles=tuple(r for r in text["roles"].split(",") if r),
            original_sha256=text["original_sha256"],
            admin_dsn=text["admin_dsn"],
            secret=text.get("secret", cls.secret),
            new_secret=text.get("new_secret", cls.new_secret),
            kept_secret=text.get("kept_secret", cls.kept_secret),
            application_name=text.get("application_name", cls.application_name),
        )
