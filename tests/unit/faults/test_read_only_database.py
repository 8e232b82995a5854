"""The dependency fault of §3.11: the shop's database turns read-only; its rollback undoes it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from drills.core.errors import InjectionFailed
from drills.core.safety import Replayed, RollbackEntry
from drills.faults.dependency import DATABASE_READ_ONLY, ReadOnlyDatabase
from drills.targets.adapters import data_rollbacks


@dataclass
class FakeAdmin:
    """A superuser connection: remembers the statements, models the database's default."""

    name: str = "shop"
    read_only: bool = False
    statements: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)

    def execute(self, sql: str) -> int:
        self.statements.append(sql)
        if sql.startswith("SELECT 1 FROM pg_db_role_setting"):
            return int(self.read_only)
        if "SET default_transaction_read_only = on" in sql:
            self.read_only = True
        elif "RESET default_transaction_read_only" in sql:
            self.read_only = False
        return 0

    def terminate_application(self, application_name: str) -> list[int]:
        self.ended.append(application_name)
        return [101, 102]


def _fault(admin: FakeAdmin, database: str = "drills") -> ReadOnlyDatabase:
    return ReadOnlyDatabase(
        admin,  # type: ignore[arg-type]  # the two methods the fault uses
        "postgresql://postgres:secret@127.0.0.1:5432/drills",
        database,
    )


def test_the_entry_is_written_without_the_password_before_anything_acts() -> None:
    admin = FakeAdmin()
    entry = _fault(admin).rollback_entry()
    assert entry.kind == DATABASE_READ_ONLY == data_rollbacks.DATABASE_READ_ONLY_KIND
    assert entry.target == "database/drills"
    assert "secret" not in str(entry.args["dsn"])
    assert (entry.args["database"], entry.args["application_name"]) == ("drills", "shop")
    assert admin.statements == []


def test_apply_sets_the_default_then_renews_the_shops_sessions() -> None:
    admin = FakeAdmin()
    _fault(admin).apply()
    assert admin.read_only
    assert admin.statements[-1] == ("ALTER DATABASE drills SET default_transaction_read_only = on")
    assert admin.ended == ["shop"]


def test_a_database_already_read_only_is_refused() -> None:
    with pytest.raises(InjectionFailed, match="already read-only"):
        _fault(FakeAdmin(read_only=True)).apply()


def test_rollback_resets_and_renews_once_and_is_idempotent() -> None:
    admin = FakeAdmin()
    fault = _fault(admin)
    fault.apply()
    fault.rollback()
    fault.rollback()
    assert not admin.read_only
    assert admin.ended == ["shop", "shop"]  # the fault's, then the first rollback's only


def test_rollback_after_the_runbooks_fix_leaves_the_sessions_alone() -> None:
    admin = FakeAdmin()
    fault = _fault(admin)
    fault.apply()
    admin.execute("ALTER DATABASE drills RESET default_transaction_read_only")  # step 3's fix
    fault.rollback()
    assert admin.ended == ["shop"]


def test_a_name_that_needs_quoting_is_refused() -> None:
    with pytest.raises(InjectionFailed, match="quoting"):
        _fault(FakeAdmin(), database='shop"; DROP TABLE orders; --').rollback_entry()


def test_the_replay_resets_only_a_database_still_read_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = FakeAdmin(read_only=True)
    monkeypatch.setattr(
        "drills.targets.adapters.postgres.PostgresDatabase", lambda name, dsn: admin
    )
    entry = RollbackEntry(
        DATABASE_READ_ONLY,
        "database/drills",
        {"database": "drills", "application_name": "shop", "dsn": "postgresql://x/drills"},
    )
    assert data_rollbacks.reset_read_only(entry) is Replayed.RESTORED
    assert data_rollbacks.reset_read_only(entry) is Replayed.ALREADY
    assert not admin.read_only
    assert admin.ended == ["shop"]
