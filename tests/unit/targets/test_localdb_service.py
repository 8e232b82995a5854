"""A service's own database and role on a local instance: its DSN, both made for a restore."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drills.targets.adapters.localdb import ServiceData, ensure_service_database, service_dsn


@dataclass
class FakeServer:
    """Answers psql as a fresh instance does: no such database; records each statement."""

    existing: tuple[str, ...] = ()
    statements: list[str] = field(default_factory=list)

    def dsn(self, dbname: str | None = None) -> str:
        return f"postgresql://app@127.0.0.1:6000/{dbname or 'shop'}"

    def admin_dsn(self, dbname: str | None = None) -> str:
        return f"postgresql://postgres@127.0.0.1:6000/{dbname or 'shop'}"

    def run_tool(self, program: str, args: list[str], **_: object) -> str:
        assert program == "psql"
        assert args[args.index("-d") + 1] == self.admin_dsn("postgres")
        self.statements.append(args[-1])
        named = args[-1].split("datname = '")[-1].rstrip("'")
        return "1\n" if "FROM pg_database" in args[-1] and named in self.existing else ""


def test_the_service_is_reached_with_its_own_role_on_its_own_database() -> None:
    server: Any = FakeServer()
    notes = ServiceData("notes", "notes")
    assert notes.dsn(server) == "postgresql://notes@127.0.0.1:6000/notes"
    assert notes.admin_dsn(server) == "postgresql://postgres@127.0.0.1:6000/notes"
    assert ServiceData().dsn(server) == "postgresql://app@127.0.0.1:6000/shop"
    assert service_dsn("postgresql://app@h:1/db?sslmode=disable", "x") == (
        "postgresql://x@h:1/db?sslmode=disable"
    )


def test_a_restore_target_gets_the_role_then_its_database_once() -> None:
    server: Any = FakeServer()
    ensure_service_database(server, ServiceData("notes", "notes"))
    create_role, look, create_db = server.statements
    assert 'CREATE ROLE "notes" LOGIN' in create_role
    assert "IF NOT EXISTS" in create_role
    assert "datname = 'notes'" in look
    assert create_db == 'CREATE DATABASE "notes" OWNER "notes"'
    there: Any = FakeServer(existing=("shop",))
    ensure_service_database(there, ServiceData("shop", "app"))
    assert len(there.statements) == 2  # the shop's database exists: nothing created
    ensure_service_database(there, ServiceData())
    assert len(there.statements) == 2  # the instance's own database and role: nothing to do
