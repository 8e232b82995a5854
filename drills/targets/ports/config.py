"""Port for a service's configuration: which database it uses, restart, rollout progress.

After a restore or a point-in-time recovery the data lives on a NEW instance. An SRE repoints
the application the way the cluster expects: change the Secret that holds the database URL,
`kubectl rollout restart` the Deployment, and wait for `kubectl rollout status`. The recovery
vocabulary (`drills.recovery.repoint`) sees only this Protocol; the Kubernetes adapter is
`drills.targets.adapters.kube_config`, unit tests use an in-memory fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["ConfigRollout", "ServiceConfig"]


@dataclass(frozen=True)
class ConfigRollout:
    """One reading of the Deployment's rollout, enough to say whether a restart has finished."""

    generation: int
    observed_generation: int
    replicas: int  # spec.replicas
    updated: int  # status.updatedReplicas: pods of the current template
    total: int  # status.replicas: pods of every ReplicaSet, old ones included
    available: int  # status.availableReplicas

    @property
    def complete(self) -> bool:
        """True when `kubectl rollout status` would say the rollout finished."""
        return (
            self.observed_generation >= self.generation
            and self.updated == self.replicas
            and self.total == self.updated
            and self.available >= self.updated
        )

    def describe(self) -> str:
        """`2/3 updated, 4 total, 3 available` style, plus an unobserved generation."""
        text = (
            f"{self.updated}/{self.replicas} updated, {self.total} total, "
            f"{self.available} available"
        )
        if self.observed_generation < self.generation:
            text += f", generation {self.generation} not yet observed"
        return text


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

    def rollout(self) -> ConfigRollout:
        """The rollout as it stands now."""
        ...
