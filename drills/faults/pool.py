"""Connection pool exhaustion (RUNBOOKS §3.5): a leaker holds sessions until no slot is left.

The sessions are idle and idle in transaction, as real leaks look, and all carry one
`application_name`, which is what the rollback entry stores (with the admin DSN, password
removed): `drills rollback`, from any process, terminates exactly the sessions with that name,
even if the drill that opened them crashed. The psycopg side of that replay is
`drills.targets.adapters.postgres.register_rollbacks`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from drills.core.errors import InjectionFailed
from drills.core.safety import RollbackEntry, RollbackRegistry
from drills.core.secrets import without_password
from drills.targets.ports.data import Database, SessionHolder

__all__ = [
    "POOL_EXHAUSTION",
    "PoolExhaustion",
    "leak_application_name",
    "register_pool_rollback",
    "rollback_pool_exhaustion",
]

POOL_EXHAUSTION = "db-pool-exhaustion"


def leak_application_name() -> str:
    """A unique tag for one fault's sessions."""
    return f"drills-leak-{uuid.uuid4().hex[:8]}"


@dataclass
class PoolExhaustion:
    """Fill the server's ordinary connection slots with held sessions.

    `admin` must use a role that keeps the reserved slots (superuser), so the harness can still
    look and clean up while users are refused.
    """

    holder: SessionHolder
    admin: Database
    idle_in_transaction_every: int = 2
    kind: str = POOL_EXHAUSTION
    opened: int = 0
    refusal: str | None = None
    terminated: list[int] = field(default_factory=list)

    @property
    def target(self) -> str:
        """The database whose slots are taken."""
        return f"database/{self.admin.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return (
            f"hold sessions tagged {self.holder.application_name} on {self.target} until "
            f"max_connections is reached (every {self.idle_in_transaction_every}th idle in "
            "transaction)"
        )

    def rollback_entry(self) -> RollbackEntry:
        """Enough to find the sessions again from another process."""
        return RollbackEntry(
            self.kind,
            self.target,
            {
                "application_name": self.holder.application_name,
                "dsn": without_password(self.admin.dsn()),
            },
        )

    def apply(self) -> None:
        """Open sessions until the server refuses; fail if none could be opened."""
        limits = self.admin.limits()
        self.opened = self.holder.hold(
            limits.max_connections, idle_in_transaction_every=self.idle_in_transaction_every
        )
        self.refusal = getattr(self.holder, "refusal", None)
        if self.opened == 0:
            raise InjectionFailed(
                f"no session could be opened on {self.target} ({self.refusal}); "
                "check the DSN and that the server runs"
            )

    def rollback(self) -> None:
        """Close what is held and terminate anything still tagged (idempotent)."""
        self.holder.release()
        self.terminated = self.admin.terminate_application(self.holder.application_name)


def rollback_pool_exhaustion(entry: RollbackEntry, admin: Database) -> list[int]:
    """Replay a pool-exhaustion rollback from its ledger entry; return the pids terminated."""
    return admin.terminate_application(str(entry.args["application_name"]))


def register_pool_rollback(
    registry: RollbackRegistry, admin_for: Callable[[str], Database]
) -> None:
    """Teach `drills rollback` the pool-exhaustion kind; `admin_for(target)` gives an admin DB."""

    def undo(entry: RollbackEntry) -> None:
        rollback_pool_exhaustion(entry, admin_for(entry.target))

    registry.register(POOL_EXHAUSTION, undo)
