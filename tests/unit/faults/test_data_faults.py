"""Pool exhaustion and destructive-statement faults on in-memory fakes."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from drills.core.clock import FakeClock
from drills.core.errors import InjectionFailed
from drills.core.safety import RollbackRegistry
from drills.core.secrets import without_password
from drills.faults.data import DATA_DESTROYED, drop_table, mass_delete, register_data_rollback
from drills.faults.pool import LeakCap, PoolExhaustion, rollback_pool_exhaustion
from drills.targets.ports.data import ConnectionLimits, RecoveryPoint


class Holder:
    application_name = "drills-leak-test"

    def __init__(self, accept: int) -> None:
        self.accept, self.open, self.refusal = accept, 0, "sorry, too many clients already"

    def hold(self, count: int, *, idle_in_transaction_every: int = 2) -> int:
        self.open = min(count, self.accept)
        return self.open

    def held(self) -> int:
        return self.open

    def release(self) -> None:
        self.open = 0


class Admin:
    name = "shop-db"

    def __init__(self) -> None:
        self.terminated_apps: list[str] = []
        self.executed: list[str] = []

    def dsn(self) -> str:
        return "postgresql://postgres:s3cret@127.0.0.1:5432/shop"

    def limits(self) -> ConnectionLimits:
        return ConnectionLimits(20, 3, 1)

    def terminate_application(self, application_name: str) -> list[int]:
        self.terminated_apps.append(application_name)
        return [101]

    def create_restore_point(self, name: str) -> RecoveryPoint:
        return RecoveryPoint(name, "0/1", "2026-01-01T00:00:00Z")

    def execute(self, sql: str) -> int:
        self.executed.append(sql)
        return 7

    def terminate(self, pids: Sequence[int], **_: object) -> list[int]:
        return list(pids)

    def probe(self, *, timeout_s: float = 2.0) -> tuple[bool, str]:
        return False, "sorry, too many clients already"


FILL = LeakCap(fill_server=True)


def test_pool_fault_fills_slots_and_rollback_ends_tagged_sessions() -> None:
    holder, admin = Holder(accept=17), Admin()
    fault = PoolExhaustion(holder, admin, admin, cap=FILL)  # type: ignore[arg-type]
    entry = fault.rollback_entry()
    assert entry.args == {
        "application_name": "drills-leak-test",
        "dsn": "postgresql://postgres@127.0.0.1:5432/shop",  # no password in the ledger
    }
    fault.apply()
    assert fault.opened == 17
    assert "too many" in (fault.refusal or "")
    fault.rollback()
    assert holder.held() == 0
    assert admin.terminated_apps == ["drills-leak-test"]
    assert rollback_pool_exhaustion(entry, admin) == [101]  # type: ignore[arg-type]


def test_pool_fault_that_opens_nothing_is_an_injection_failure() -> None:
    fault = PoolExhaustion(Holder(accept=0), Admin(), Admin(), cap=FILL)  # type: ignore[arg-type]
    with pytest.raises(InjectionFailed, match="no session could be opened"):
        fault.apply()


def test_destructive_statement_marks_a_point_then_acts() -> None:
    clock, admin = FakeClock(), Admin()
    fault = drop_table(admin, admin, 'ord"ers', clock=clock)  # type: ignore[arg-type]
    fault.apply()
    assert admin.executed == ['DROP TABLE "ord""ers"']
    assert fault.point is not None
    assert fault.point.name.startswith("drills-before-drop-table-")
    assert fault.point_at_s == fault.fault_at_s == clock.now()
    fault.rollback()  # nothing to undo, must not raise
    registry = RollbackRegistry()
    register_data_rollback(registry)
    registry.run(fault.rollback_entry())
    assert fault.rollback_entry().kind == DATA_DESTROYED
    deleting = mass_delete(admin, admin, "orders", clock=clock, keep_every=4)  # type: ignore[arg-type]
    assert deleting.statement == 'DELETE FROM "orders" WHERE id % 4 <> 0'


def test_redact_dsn_keeps_everything_but_the_password() -> None:
    assert without_password("postgresql://a:b@h:1/d?x=1") == "postgresql://a@h:1/d?x=1"
    assert without_password("postgresql://a@h/d") == "postgresql://a@h/d"
