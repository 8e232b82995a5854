"""Lock waits as `pg_locks` shows them, and who blocks whom (RUNBOOKS.md §3.10 `lock`).

The runbook's diagnosis is `SELECT * FROM pg_locks WHERE NOT granted` [003][004]; PostgreSQL's
`pg_blocking_pids(pid)` names, for each waiting backend, the backends in its way. From one
snapshot of those rows this module finds the root blockers: backends that block someone and
wait for nothing themselves. Terminating a root blocker lets the queue behind it drain;
terminating a waiter only fails its statement and leaves the lock where it was, which is why
the runbook's broad form ("terminate active queries older than 5 min", §5.2) is unsafe: a
blocker sitting idle in its transaction is not active, while every waiter is.

Pure: the adapter fills `LockRow`s, the drill and the recovery read the answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Blocker",
    "LockRow",
    "LockSnapshot",
    "TerminatedSession",
    "Termination",
    "Waiter",
    "terminated_from",
]


@dataclass(frozen=True)
class LockRow:
    """One row of `pg_locks` joined with its backend's `pg_stat_activity` row.

    `backend_start` (ISO text) with `pid` identifies one backend: a pid the server reuses
    later belongs to another session. `blocked_by` is `pg_blocking_pids(pid)` for a lock not
    granted (empty for a granted one); `wait_s` how long it has waited (None when granted).
    """

    pid: int
    application_name: str
    backend_start: str
    state: str
    locktype: str
    relation: str
    mode: str
    granted: bool
    blocked_by: tuple[int, ...] = ()
    wait_s: float | None = None
    query: str = ""


@dataclass(frozen=True)
class Waiter:
    """A backend waiting for a lock, and the backends in its way."""

    pid: int
    application_name: str
    backend_start: str
    relation: str
    mode: str
    blocked_by: tuple[int, ...]
    wait_s: float | None
    query: str

    def describe(self) -> str:
        """`pid 812 (shop) waits 2.1 s for RowExclusiveLock on orders: INSERT ...`."""
        waited = "" if self.wait_s is None else f" {self.wait_s:.1f} s"
        on = f" on {self.relation}" if self.relation else ""
        return (
            f"pid {self.pid} ({self.application_name or 'no application_name'}) waits{waited} "
            f"for {self.mode}{on}: {_short(self.query)}"
        )


@dataclass(frozen=True)
class Blocker:
    """A root blocker: it holds what others wait for and waits for nothing itself.

    `waiters` are every backend queued behind it, directly or through another waiter.
    """

    pid: int
    application_name: str
    backend_start: str
    state: str
    holds: tuple[str, ...]
    waiters: tuple[int, ...]
    query: str = ""

    def describe(self) -> str:
        """`pid 700 (drills-lock-1a2b) idle in transaction, holds ExclusiveLock on orders ...`."""
        held = ", ".join(self.holds) or "no relation lock listed"
        return (
            f"pid {self.pid} ({self.application_name or 'no application_name'}), "
            f"{self.state or 'state unknown'}, holds {held}; {len(self.waiters)} backend(s) "
            f"wait behind it; last statement: {_short(self.query)}"
        )


@dataclass(frozen=True)
class LockSnapshot:
    """One look at `pg_locks`; answers who waits and who blocks (pure)."""

    rows: tuple[LockRow, ...] = ()

    @classmethod
    def of(cls, rows: Iterable[LockRow]) -> LockSnapshot:
        """A snapshot of `rows`."""
        return cls(tuple(rows))

    def waiters(self) -> tuple[Waiter, ...]:
        """Every lock not granted, oldest wait first (a backend waits for one lock at a time)."""
        waiting = [r for r in self.rows if not r.granted]
        waiting.sort(key=lambda r: (-(r.wait_s or 0.0), r.pid))
        return tuple(
            Waiter(
                r.pid,
                r.application_name,
                r.backend_start,
                r.relation,
                r.mode,
                r.blocked_by,
                r.wait_s,
                r.query,
            )
            for r in waiting
        )

    def blockers(self) -> tuple[Blocker, ...]:
        """The root blockers, the one with the most backends behind it first.

        A backend that blocks others while waiting itself is a link of a queue, not its root;
        a cycle of waiters (a deadlock) has no root at all: PostgreSQL's deadlock detector ends
        it, so an empty answer there is right.
        """
        waiting = {r.pid for r in self.rows if not r.granted}
        blocks = _direct_blocks(self.rows)
        roots = [pid for pid in blocks if pid not in waiting]
        found = [self._blocker(pid, _behind(pid, blocks)) for pid in roots]
        found.sort(key=lambda b: (-len(b.waiters), b.pid))
        return tuple(found)

    def waiting_pids(self) -> frozenset[int]:
        """Pids with a lock not granted."""
        return frozenset(r.pid for r in self.rows if not r.granted)

    def _blocker(self, pid: int, waiters: Sequence[int]) -> Blocker:
        own = [r for r in self.rows if r.pid == pid]
        first = own[0] if own else None
        holds = sorted({f"{r.mode} on {r.relation}" for r in own if r.granted and r.relation})
        return Blocker(
            pid=pid,
            application_name=first.application_name if first else "",
            backend_start=first.backend_start if first else "",
            state=first.state if first else "",
            holds=tuple(holds),
            waiters=tuple(sorted(waiters)),
            query=first.query if first else "",
        )


def _direct_blocks(rows: Iterable[LockRow]) -> dict[int, set[int]]:
    """Blocking pid -> the waiting pids that name it in `pg_blocking_pids`."""
    blocks: dict[int, set[int]] = {}
    for row in rows:
        if row.granted:
            continue
        for pid in row.blocked_by:
            if pid != row.pid:
                blocks.setdefault(pid, set()).add(row.pid)
    return blocks


def _behind(root: int, blocks: dict[int, set[int]]) -> list[int]:
    """Every pid queued behind `root`, through any chain of waiters (bounded by the graph)."""
    seen: set[int] = set()
    todo = list(blocks.get(root, ()))
    while todo:
        pid = todo.pop()
        if pid in seen or pid == root:
            continue
        seen.add(pid)
        todo.extend(blocks.get(pid, ()))
    return sorted(seen)


@dataclass(frozen=True)
class TerminatedSession:
    """A backend a recovery ended, as it looked in the snapshot the recovery acted on."""

    pid: int
    application_name: str
    state: str
    query: str
    was_blocker: bool
    was_waiting: bool

    def describe(self) -> str:
        """`pid 812 (shop, active, waiting for a lock): INSERT INTO orders ...`."""
        role = "a root blocker" if self.was_blocker else "blocking nobody"
        if self.was_waiting:
            role = "waiting for a lock"
        return (
            f"pid {self.pid} ({self.application_name or 'no application_name'}, "
            f"{self.state or 'state unknown'}, {role}): {_short(self.query)}"
        )


@dataclass(frozen=True)
class Termination:
    """What a lock recovery terminated, judged against the snapshot it acted on.

    `form` is the rule as the report prints it (e.g. the safe "the root blocker's pid only").
    Only root blockers may be ended: `innocent` lists every other session terminated.
    """

    form: str
    blockers: tuple[Blocker, ...]
    terminated: tuple[TerminatedSession, ...] = ()
    skipped: tuple[str, ...] = field(default=())

    @property
    def innocent(self) -> tuple[TerminatedSession, ...]:
        """Sessions terminated that blocked nobody (waiters, bystanders): must stay empty."""
        return tuple(s for s in self.terminated if not s.was_blocker)

    @property
    def blockers_left(self) -> tuple[Blocker, ...]:
        """Root blockers the recovery did not end."""
        ended = {s.pid for s in self.terminated}
        return tuple(b for b in self.blockers if b.pid not in ended)

    def summary(self) -> str:
        """One line for the report: what was ended, what was spared, by which rule."""
        ended = "; ".join(s.describe() for s in self.terminated) or "nothing"
        text = f"rule: {self.form}; terminated: {ended}"
        if self.skipped:
            text += f"; not terminated: {'; '.join(self.skipped)}"
        return text


def terminated_from(
    snapshot: LockSnapshot, pids: Iterable[int], *, states: dict[int, tuple[str, str, str]]
) -> tuple[TerminatedSession, ...]:
    """Describe the ended `pids` against `snapshot`; `states` gives (app, state, query) by pid."""
    roots = {b.pid for b in snapshot.blockers()}
    waiting = snapshot.waiting_pids()
    found = []
    for pid in sorted(set(pids)):
        app, state, query = states.get(pid, ("", "", ""))
        found.append(TerminatedSession(pid, app, state, query, pid in roots, pid in waiting))
    return tuple(found)


def _short(query: str, limit: int = 80) -> str:
    text = " ".join(query.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
