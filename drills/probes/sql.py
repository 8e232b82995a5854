"""SQL probes: conditions on a database a drill waits on (compose with `&` and `|`)."""

from __future__ import annotations

from drills.core.conditions import Condition, Observation
from drills.targets.ports.data import Database

__all__ = ["connections_below", "connections_refused", "sql_reachable"]


def sql_reachable(database: Database, *, timeout_s: float = 2.0) -> Condition:
    """A new connection runs `SELECT 1` (the steady-state SQL reachability probe)."""

    def check() -> Observation:
        ok, detail = database.probe(timeout_s=timeout_s)
        return Observation(ok=ok, detail=detail)

    return Condition(f"sql_reachable({database.name})", check)


def connections_refused(database: Database, *, timeout_s: float = 2.0) -> Condition:
    """A new connection is refused (the user-side symptom: 'too many clients', 'reserved')."""

    def check() -> Observation:
        ok, detail = database.probe(timeout_s=timeout_s)
        return Observation(ok=not ok, detail=detail)

    return Condition(f"connections_refused({database.name})", check)


def connections_below(admin: Database, *, headroom: int = 1) -> Condition:
    """Client backends leave at least `headroom` ordinary slots free (read with an admin role)."""

    def check() -> Observation:
        limits = admin.limits()
        free = limits.ordinary_slots - limits.in_use
        detail = f"{limits.in_use} in use of {limits.ordinary_slots} ordinary slots"
        return Observation(ok=free >= headroom, detail=detail)

    return Condition(f"connections_below({admin.name}, headroom={headroom})", check)
