"""Streaming replication as the runbook reads it (RUNBOOKS.md §3.7 `replica-promote`, [004]).

The primary side: physical replication slots (`pg_replication_slots`: created before the
replica, read as step 4 asks, `active` while a replica streams through one, dropped once the
replica is gone, since an orphaned slot keeps WAL on the primary for ever). Every call opens
one superuser connection and closes it, so nothing lingers in `pg_stat_activity` afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from drills.core.errors import DrillError
from drills.targets.adapters.postgres import translate

__all__ = [
    "ReplicationSlot",
    "create_physical_slot",
    "delay_replay",
    "drop_slot",
    "replication_slots",
    "slot_is_active",
]

_APP = "drills-replication"


@dataclass(frozen=True)
class ReplicationSlot:
    """One row of pg_replication_slots, with the WAL it holds back on the primary."""

    name: str
    slot_type: str
    active: bool
    restart_lsn: str | None
    retained_bytes: int | None

    def describe(self) -> str:
        """One line: name, type, active or not, WAL retained."""
        held = "?" if self.retained_bytes is None else f"{self.retained_bytes} B"
        state = "active" if self.active else "inactive"
        return f"{self.name} ({self.slot_type}, {state}, restart_lsn {self.restart_lsn}, {held})"


def _rows(
    dsn: str, query: str | sql.Composed, params: list[Any], doing: str
) -> list[tuple[Any, ...]]:
    try:
        with psycopg.connect(
            dsn, autocommit=True, connect_timeout=3, application_name=_APP
        ) as conn:
            cursor = conn.execute(query, params)
            return list(cursor.fetchall()) if cursor.description else []
    except psycopg.Error as exc:
        raise translate(exc, doing) from exc


def replication_slots(admin_dsn: str) -> list[ReplicationSlot]:
    """`SELECT ... FROM pg_replication_slots` on the primary (the runbook's step 4 reading)."""
    rows = _rows(
        admin_dsn,
        "SELECT slot_name, slot_type, active, restart_lsn::text,"
        " (pg_current_wal_lsn() - restart_lsn)::bigint FROM pg_replication_slots"
        " ORDER BY slot_name",
        [],
        "read pg_replication_slots",
    )
    return [
        ReplicationSlot(
            str(name), str(kind), bool(active), lsn, None if held is None else int(held)
        )
        for name, kind, active, lsn, held in rows
    ]


def create_physical_slot(admin_dsn: str, name: str) -> None:
    """A physical slot that reserves WAL at once (the replica's base backup streams through it)."""
    _rows(
        admin_dsn,
        "SELECT pg_create_physical_replication_slot(%s, true)",
        [name],
        f"create replication slot {name}",
    )


def drop_slot(admin_dsn: str, name: str) -> bool:
    """Drop the slot if it exists; False when it was not there. An active slot raises."""
    rows = _rows(
        admin_dsn,
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
        [name],
        f"drop replication slot {name}",
    )
    return bool(rows)


def slot_is_active(admin_dsn: str, name: str) -> bool:
    """Whether a walsender streams through the slot `name` right now."""
    found = [s for s in replication_slots(admin_dsn) if s.name == name]
    if not found:
        raise DrillError(f"replication slot {name} is not on the primary")
    return found[0].active


def delay_replay(replica_admin_dsn: str, delay_ms: int) -> None:
    """`recovery_min_apply_delay` on a streaming replica, live (ALTER SYSTEM + reload).

    Set once the replica streams: its walreceiver keeps receiving every commit, the startup
    process applies each one `delay_ms` after the primary made it. Set before the first start
    instead, a replica whose base backup ends in commits waits on the first of them before it
    ever asks the primary for more, and never streams at all.
    """
    statement = sql.SQL("ALTER SYSTEM SET recovery_min_apply_delay = {}").format(
        sql.Literal(f"{int(delay_ms)}ms")
    )
    _rows(replica_admin_dsn, statement, [], "set recovery_min_apply_delay")
    _rows(replica_admin_dsn, "SELECT pg_reload_conf()", [], "reload the replica's settings")
