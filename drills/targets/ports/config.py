"""Port for a service's configuration: which database it uses, restart, rollout progress.

After a restore or a point-in-time recovery the data lives on a NEW instance. An SRE repoints
the application the way the cluster expects: change the Secret that holds the database URL,
`kubectl rollout restart` the Deployment, and wait for `kubectl rollout status`. The recovery
vocabulary (`drills.recovery.repoint`) sees only this Protocol; the Kubernetes adapter is
`drills.targets.adapters.kube_config`, unit tests use an in-memory fake.
"""

from __future__ import annotations

from typing import Protocol

from drills.targets.ports.rollout import RolloutStatus

__all__ = ["ServiceConfig"]


class ServiceConfig(Protocol):
    """Where a service reads its database URL from, and how to make it read it again."""

    @property
    def where(self) -> str:
        """Where the URL lives, for messages, e.g. `default/secret/shop-database[url]`."""
        ...

    def database_url(self) -> str | None:
        """The database URL the service is configured with; None when none is set."""
        ...

    def set_database_url(self, url: str) -> None:
        """Store a new database URL (create the holder if it does not exist yet)."""
        ...

    def restart(self) -> str:
        """Restart every pod with a rolling update (`rollout restart`); return the stamp used."""
        ...

    def rollout(self) -> RolloutStatus:
        """The rollout as it stands now."""
        ...
