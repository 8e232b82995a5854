"""The table-lock fault names its backend exactly before it acts, and undoes only that backend."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from drills.core.errors import DrillError
from drills.core.locks import LockSnapshot
from drills.faults.locks import TABLE_LOCK, TableLock, lock_application_name
from drills.targets.ports.locks import BackendIdentity

IDENTITY = BackendIdentity(700, "2026-12-05T04:00:00.000001Z", "drills-lock-1a2b3c4d")


@dataclass
class FakeHolder:
    application_name: str = IDENTITY.application_name
    calls: list[str] = field(default_factory=list)

    def connect(self) -> BackendIdentity:
        self.calls.append("connect")
        return IDENTITY

    def lock(self, table: str, mode: str, *, timeout_s: float) -> None:
        self.calls.append(f"lock {table} {mode} {timeout_s:g}")

    def release(self) -> None:
        self.calls.append("release")


@dataclass
class FakeMonitor:
    ended: list[BackendIdentity] = field(default_factory=list)

    def snapshot(self) -> LockSnapshot:
        return LockSnapshot()

    def session_states(self) -> dict[int, tuple[str, str, str]]:
        return {}

    def terminate_blocker(self, pid: int, backend_start: str) -> bool:
        return False

    def terminate(self, pids: list[int]) -> list[int]:
        return []

    def end_backend(self, identity: BackendIdentity) -> bool:
        self.ended.append(identity)
        return False

    def alive(self, identities: list[BackendIdentity]) -> list[BackendIdentity]:
        return []

    def statement_stats(self, limit: int = 3) -> list[str] | None:
        return None


def _fault() -> tuple[TableLock, FakeHolder, FakeMonitor]:
    holder, monitor = FakeHolder(), FakeMonitor()
    admin = "postgresql://postgres:s3cret@10.244.1.1:5432/shop"
    return TableLock(holder, monitor, admin, database="shop"), holder, monitor


def test_the_rollback_entry_needs_the_session_first() -> None:
    fault, _, _ = _fault()
    with pytest.raises(DrillError, match="connect"):
        fault.rollback_entry()


def test_the_entry_names_one_backend_and_keeps_no_password() -> None:
    fault, holder, _ = _fault()
    assert fault.connect() == IDENTITY
    entry = fault.rollback_entry()
    assert entry.kind == TABLE_LOCK == "table-lock"
    assert entry.target == "database/shop/table/orders"
    assert entry.args["pid"] == 700
    assert entry.args["backend_start"] == IDENTITY.backend_start
    assert entry.args["application_name"] == "drills-lock-1a2b3c4d"
    assert "s3cret" not in str(entry.args["dsn"])
    assert holder.calls == ["connect"]  # nothing locked yet


def test_apply_locks_in_exclusive_mode_and_rollback_ends_that_backend_only() -> None:
    fault, holder, monitor = _fault()
    fault.connect()
    fault.apply()
    assert holder.calls[-1] == "lock orders EXCLUSIVE 5"
    assert "writes queue, reads go on" in fault.describe()
    fault.rollback()
    fault.rollback()  # idempotent
    assert holder.calls[-2:] == ["release", "release"]
    assert monitor.ended == [IDENTITY, IDENTITY]


def test_each_fault_gets_its_own_recognisable_tag() -> None:
    first, second = lock_application_name(), lock_application_name()
    assert first != second
    assert first.startswith("drills-lock-")
