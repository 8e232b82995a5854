"""Connection pool exhaustion (RUNBOOKS §3.5): a leaker holds sessions until no slot is left.

The leak is capped (`LeakCap`): the application's own role or database limit, or, with the
profile's opt-in, the whole server's ordinary slots. It has landed only once a new connection
of the application's role is refused.

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

from drills.core.errors import InjectionFailed, SafetyViolation
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.core.secrets import without_password
from drills.targets.ports.data import ConnectionLimits, Database, SessionHolder

__all__ = [
    "POOL_EXHAUSTION",
    "LeakCap",
    "PoolExhaustion",
    "leak_application_name",
    "register_pool_rollback",
    "rollback_pool_exhaustion",
    "session_kinds",
]

POOL_EXHAUSTION = "db-pool-exhaustion"


def leak_application_name() -> str:
    """A unique tag for one fault's sessions."""
    return f"drills-leak-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeakCap:
    """How far the leak may go (RUNBOOKS.md §3.5 drilled without hurting anyone else).

    By default the leak fills only the slots of the application's own role or database (their
    CONNECTION LIMIT). A server without such a limit is shared by every role and database on
    it, so filling it needs `fill_server` (the profile's explicit opt-in); `max_sessions` caps
    the leak further in either case.
    """

    fill_server: bool = False
    max_sessions: int | None = None
    source: str = "the profile"

    def sessions(self, limits: ConnectionLimits) -> tuple[int, str]:
        """The most sessions the leak may hold, and what bounds it; SafetyViolation if none may."""
        own = limits.own_limit
        if own is not None:
            wanted, scope = own, _own_scope(limits)
        elif self.fill_server:
            wanted = limits.ordinary_slots
            scope = (
                f"every ordinary slot of the server (max_connections {limits.max_connections}, "
                f"[pool] fill_server in {self.source})"
            )
        else:
            raise SafetyViolation(
                f"the pool leak would take every ordinary slot of the server (max_connections "
                f"{limits.max_connections}), which every role and database on it shares; the "
                f"fault was refused and nothing was opened. Give role {limits.role} or database "
                f"{limits.database} a limit of its own (ALTER ROLE {limits.role} CONNECTION LIMIT "
                f"n) so the leak fills only the shop's slots, or, if the server serves the shop "
                f"alone, set [pool] fill_server = true in {self.source}"
            )
        if self.max_sessions is not None and self.max_sessions < wanted:
            return self.max_sessions, f"[pool] max_sessions {self.max_sessions} in {self.source}"
        return wanted, scope


def _own_scope(limits: ConnectionLimits) -> str:
    if limits.role_limit is not None and limits.role_limit == limits.own_limit:
        return f"role {limits.role} CONNECTION LIMIT {limits.role_limit}"
    return f"database {limits.database} CONNECTION LIMIT {limits.database_limit}"


@dataclass
class PoolExhaustion:
    """Hold sessions with the application's role until the server refuses it a new one.

    `app` is the application's database (the role and database the leak uses, as `holder`
    does); `admin` must use a role that keeps the reserved slots (superuser), so the harness
    can still look and clean up while users are refused. The leak is capped by `cap`. The
    fault has landed only when a new connection of the application's role is refused:
    otherwise it raises InjectionFailed, because exhaustion was not drilled.
    `idle_in_transaction_every` chooses which kind of sessions leak (`session_kinds`): 0 only
    idle ones, 1 only idle in transaction, the default 2 half of each, as real leaks look.
    """

    holder: SessionHolder
    admin: Database
    app: Database
    cap: LeakCap = field(default_factory=LeakCap)
    idle_in_transaction_every: int = 2
    kind: str = POOL_EXHAUSTION
    opened: int = 0
    refusal: str | None = None
    scope: str = ""
    terminated: list[int] = field(default_factory=list)

    @property
    def target(self) -> str:
        """The database whose slots are taken."""
        return f"database/{self.admin.name}"

    def describe(self) -> str:
        """One line for the plan."""
        bound = "the shop's role/database limit"
        if self.cap.fill_server:
            bound = "max_connections (fill_server)"
        if self.cap.max_sessions is not None:
            bound += f", at most {self.cap.max_sessions} sessions"
        return (
            f"hold sessions tagged {self.holder.application_name} on {self.target} until a new "
            f"connection is refused ({bound}; {session_kinds(self.idle_in_transaction_every)})"
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
        """Open sessions up to the cap, then check a new connection is refused.

        Raises SafetyViolation when the cap allows no leak (a shared server without opt-in),
        InjectionFailed when no session opened or a new connection is still accepted.
        """
        wanted, self.scope = self.cap.sessions(self.app.limits())
        self._hold(wanted)
        if self.opened == 0:
            raise InjectionFailed(
                f"no session could be opened on {self.target} ({self.refusal}); "
                "check the DSN and that the server runs"
            )
        self._confirm_refused(wanted)

    def _hold(self, count: int) -> None:
        self.opened += self.holder.hold(
            count, idle_in_transaction_every=self.idle_in_transaction_every
        )
        self.refusal = getattr(self.holder, "refusal", None) or self.refusal

    def _confirm_refused(self, wanted: int) -> None:
        """A new connection must be refused; a slot freed meanwhile is taken, within the cap."""
        answer = ""
        for _ in range(_CONFIRM_ROUNDS):
            refused, answer = _refused(self.app)
            if refused:
                self.refusal = answer
                return
            room = wanted - self.holder.held()
            if room <= 0:
                break
            self._hold(room)  # a session of the app's own pool closed: take its slot too
        limits = self.admin.limits()
        raise InjectionFailed(
            f"the leak holds {self.holder.held()} sessions (capped by {self.scope}), yet a new "
            f"connection of the application's role was accepted ({answer}); the server has "
            f"{limits.describe()}, more slots than the leak may take, so exhaustion was not "
            "drilled. Raise the cap ([pool] max_sessions, the role's CONNECTION LIMIT) or "
            "lower max_connections"
        )

    def rollback(self) -> None:
        """Close what is held and terminate anything still tagged (idempotent)."""
        self.holder.release()
        self.terminated = self.admin.terminate_application(self.holder.application_name)


_CONFIRM_ROUNDS = 3  # probe, take slots freed meanwhile, probe again: bounded


def session_kinds(idle_in_transaction_every: int) -> str:
    """What the leaked sessions look like in pg_stat_activity, for `idle_in_transaction_every`.

    0 (or less): every session `idle`; 1: every session `idle in transaction`; n: one in n
    `idle in transaction`, the rest `idle` (the holder's rule, applied to each batch it opens).
    """
    every = idle_in_transaction_every
    if every <= 0:
        return "every session idle"
    if every == 1:
        return "every session idle in transaction"
    return f"one session in {every} idle in transaction, the rest idle"


def _refused(app: Database) -> tuple[bool, str]:
    ok, answer = app.probe(timeout_s=3.0)
    return not ok, answer


def rollback_pool_exhaustion(entry: RollbackEntry, admin: Database) -> list[int]:
    """Replay a pool-exhaustion rollback from its ledger entry; return the pids terminated."""
    return admin.terminate_application(str(entry.args["application_name"]))


def register_pool_rollback(
    registry: RollbackRegistry, admin_for: Callable[[str], Database]
) -> None:
    """Teach `drills rollback` the pool-exhaustion kind; `admin_for(target)` gives an admin DB."""

    def undo(entry: RollbackEntry) -> Replayed:
        ended = rollback_pool_exhaustion(entry, admin_for(entry.target))
        return Replayed.RESTORED if ended else Replayed.ALREADY

    registry.register(POOL_EXHAUSTION, undo)
