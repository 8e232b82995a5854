"""In-memory fakes of the credential rotation's ports (SecretStore, LoginRoles) for unit tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from drills.targets.ports.rollout import RolloutStatus

ORIGINAL_URL = "postgresql://app@10.244.1.1:5432/shop"


@dataclass
class FakeSecrets:
    """Secrets by name and the Secret DATABASE_URL reads; each template change calls `rolled`."""

    secrets: dict[str, str] = field(default_factory=lambda: {"shop-database": ORIGINAL_URL})
    reads_from: str | None = "shop-database"
    restarts: int = 0
    complete: bool = True
    rolled: Callable[[], None] = lambda: None
    namespace: str = "default"

    def read(self, secret: str) -> str | None:
        return self.secrets.get(secret)

    def write(self, secret: str, url: str) -> None:
        self.secrets[secret] = url

    def delete(self, secret: str) -> bool:
        return self.secrets.pop(secret, None) is not None

    def source(self) -> str | None:
        return self.reads_from

    def read_from(self, secret: str) -> None:
        self.reads_from = secret
        self.rolled()

    def restart(self) -> str:
        self.restarts += 1
        self.rolled()
        return f"stamp-{self.restarts}"

    def rollout(self) -> RolloutStatus:
        updated = 3 if self.complete else 1
        return RolloutStatus(1, 1, 3, updated, 3, 3, self.restarts + 1, "shop:1.0.0")


@dataclass
class FakeLogins:
    """Roles with passwords (None: may not log in); roles in `trusted` log in without one."""

    roles: dict[str, str | None] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)
    trusted: set[str] = field(default_factory=lambda: {"app"})
    open_sessions: dict[str, int] = field(default_factory=dict)
    trust_everyone: bool = False
    attempts: list[str] = field(default_factory=list)

    def create_login(self, role: str, password: str, *, member_of: str) -> None:
        self.roles[role], self.members[role] = password, member_of

    def set_password(self, role: str, password: str) -> None:
        self.roles[role] = password

    def revoke_login(self, role: str) -> int:
        self.roles[role] = None
        return self.open_sessions.pop(role, 0)

    def drop_logins(self, roles: Sequence[str]) -> list[str]:
        dropped = self.existing(roles)
        for role in dropped:
            del self.roles[role]
        return dropped

    def existing(self, roles: Sequence[str]) -> list[str]:
        return [role for role in roles if role in self.roles]

    def try_login(self, url: str, *, timeout_s: float = 2.0) -> tuple[bool, str]:
        parts = urlsplit(url)
        user, password = parts.username or "", unquote(parts.password or "")
        self.attempts.append(user)
        if self.trust_everyone or user in self.trusted:
            return True, "trusted"
        if user in self.roles and self.roles[user] is not None and self.roles[user] == password:
            return True, "logged in"
        return False, f'FATAL:  password authentication failed for user "{user}"'
