"""Ports for a credential rotation (RUNBOOKS.md §3.14): the Secrets a service reads, the logins.

A rotation touches two systems. `SecretStore` is the cluster side: Secrets holding a database
URL (key `url`), which Secret the Deployment's `DATABASE_URL` is read from (`kubectl set env
--from=secret/NAME --prefix=DATABASE_`), `rollout restart` and the rollout's progress.
`LoginRoles` is the database side: login roles with a password, revoking them, and a real login
attempt. The adapters are `drills.targets.adapters.kube_secrets` and `postgres_logins`; unit tests
use in-memory fakes. Passwords cross these ports only as arguments: no method returns one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from drills.targets.ports.rollout import RolloutStatus

__all__ = ["LoginRoles", "SecretStore"]


class SecretStore(Protocol):
    """The Secrets of one namespace that hold database URLs, and the Deployment reading one."""

    @property
    def namespace(self) -> str:
        """The namespace of the Secrets and the Deployment."""
        ...

    def read(self, secret: str) -> str | None:
        """The URL in Secret `secret` (None: no such Secret or key)."""
        ...

    def write(self, secret: str, url: str) -> None:
        """Store `url` in Secret `secret`, creating it when missing."""
        ...

    def delete(self, secret: str) -> bool:
        """Delete Secret `secret`; False when it did not exist."""
        ...

    def source(self) -> str | None:
        """The Secret the Deployment's DATABASE_URL is read from (None: not from a Secret)."""
        ...

    def read_from(self, secret: str) -> None:
        """Read DATABASE_URL from Secret `secret` from now on (a pod template change)."""
        ...

    def restart(self) -> str:
        """`kubectl rollout restart` the Deployment; the restartedAt stamp it set."""
        ...

    def rollout(self) -> RolloutStatus:
        """The Deployment's rollout as `kubectl rollout status` reads it."""
        ...


class LoginRoles(Protocol):
    """Login roles of one PostgreSQL server, managed through a superuser connection."""

    def create_login(self, role: str, password: str, *, member_of: str) -> None:
        """CREATE ROLE `role` LOGIN with `password` (hashed client-side), IN ROLE `member_of`."""
        ...

    def set_password(self, role: str, password: str) -> None:
        """ALTER ROLE `role` PASSWORD (hashed client-side)."""
        ...

    def revoke_login(self, role: str) -> int:
        """NOLOGIN and no password for `role`; end its sessions; how many were ended."""
        ...

    def drop_logins(self, roles: Sequence[str]) -> list[str]:
        """End the sessions of `roles` and drop them; the ones that existed and were dropped."""
        ...

    def existing(self, roles: Sequence[str]) -> list[str]:
        """Which of `roles` exist."""
        ...

    def try_login(self, url: str, *, timeout_s: float = 2.0) -> tuple[bool, str]:
        """Log in with `url` and run `SELECT 1`: accepted, and what the server said."""
        ...
