"""`db-connection-failure`'s changes: each records what undoes it and undoes only its own work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from drills.cli.db_connection_rollbacks import restore_database_host
from drills.cli.reinstate import register_rollbacks
from drills.core.clock import FakeClock
from drills.core.errors import ConfigError, DrillError, InjectionFailed
from drills.core.safety import RollbackEntry, RollbackRegistry
from drills.faults.database import (
    DATABASE_HOST,
    DATABASE_STOPPED,
    SERVER_SETTINGS,
    DenyDatabaseEgress,
    ServerSettingsChange,
    StopDatabase,
    WrongDatabaseHost,
    database_egress_manifest,
    host_of,
    with_host,
)
from drills.targets.ports.rollout import RolloutStatus
from fixtures.db_connection import crash_recovery_lines, db_down_defect, dsn_differences

Status = Literal["absent", "stopped", "running"]
URL = "postgresql://app:s3cret@10.88.0.1:5433/shop?sslmode=disable"


@dataclass
class Server:
    """A server whose start lands on `next_port`."""

    name: str = "primary"
    state: Status = "running"
    port: int | None = 5433
    next_port: int = 5433
    log_path: Path = Path("/nonexistent/server.log")
    stops: list[str] = field(default_factory=list)

    def status(self) -> Status:
        return self.state

    def stop(self, mode: str = "fast", *, timeout_s: float = 60.0) -> None:
        self.stops.append(mode)
        self.state = "stopped"

    def start(self, *, timeout_s: float = 60.0) -> str:
        self.state, self.port = "running", self.next_port
        return f"postgresql://app@127.0.0.1:{self.port}/shop"


def test_the_stop_is_immediate_and_the_rollback_starts_it_on_the_same_port() -> None:
    server = Server()
    fault = StopDatabase(server, {"postgres_root": "/srv/pg", "max_connections": 60})
    entry = fault.rollback_entry()
    assert (entry.kind, entry.target) == (DATABASE_STOPPED, "postgres/primary")
    assert entry.args == {"postgres_root": "/srv/pg", "max_connections": 60, "name": "primary"} | {
        "port": 5433
    }
    fault.apply()
    assert (server.stops, server.state) == (["immediate"], "stopped")
    fault.rollback()
    assert server.state == "running"
    fault.rollback()  # idempotent: running already
    assert server.state == "running"


def test_a_stopped_server_is_no_fault_and_another_port_is_no_recovery() -> None:
    with pytest.raises(InjectionFailed, match="not running"):
        StopDatabase(Server(state="stopped")).apply()
    server = Server(next_port=6000)
    fault = StopDatabase(server)
    fault.rollback_entry()
    fault.apply()
    with pytest.raises(DrillError, match="came back on port 6000, not 5433"):
        fault.rollback()


@dataclass
class Settings:
    """ALTER SYSTEM in memory; `shown` follows the overrides at once."""

    name: str = "primary"
    auto: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(
        default_factory=lambda: {"synchronous_commit": "on", "wal_writer_delay": "200ms"}
    )

    def show(self, names: Sequence[str]) -> dict[str, str]:
        return {n: self.auto.get(n, self.defaults.get(n, "")) for n in names}

    def overridden(self, names: Sequence[str]) -> list[str]:
        return sorted(n for n in names if n in self.auto)

    def alter_system(self, values: Mapping[str, str]) -> None:
        self.auto.update(values)

    def reset_system(self, names: Sequence[str]) -> None:
        for name in names:
            self.auto.pop(name, None)


VALUES = {"synchronous_commit": "off", "wal_writer_delay": "10s"}


def test_settings_are_set_until_shown_and_reset_by_name() -> None:
    settings = Settings(auto={"work_mem": "8MB"})
    change = ServerSettingsChange(settings, VALUES, FakeClock(), {"dsn": "postgresql://p@h/db"})
    entry = change.rollback_entry()
    assert (entry.kind, entry.args["names"]) == (
        SERVER_SETTINGS,
        "synchronous_commit,wal_writer_delay",
    )
    change.apply()
    assert settings.show(list(VALUES)) == VALUES
    change.rollback()
    assert settings.auto == {"work_mem": "8MB"}  # the operator's own setting stays
    change.rollback()


def test_a_setting_already_overridden_is_not_the_drills_to_change() -> None:
    settings = Settings(auto={"synchronous_commit": "local"})
    with pytest.raises(InjectionFailed, match="synchronous_commit already set"):
        ServerSettingsChange(settings, VALUES, FakeClock()).apply()
    assert settings.auto == {"synchronous_commit": "local"}


def test_settings_that_never_show_are_refused() -> None:
    class Ignored(Settings):
        def alter_system(self, values: Mapping[str, str]) -> None:
            del values  # a server that never reloads

    with pytest.raises(InjectionFailed, match="did not take"):
        ServerSettingsChange(Ignored(), VALUES, FakeClock()).apply()


def test_the_host_is_replaced_and_everything_else_kept() -> None:
    assert with_host(URL, "shop-db.invalid") == (
        "postgresql://app:s3cret@shop-db.invalid:5433/shop?sslmode=disable"
    )
    assert with_host(with_host(URL, "shop-db.invalid"), "10.88.0.1") == URL
    assert with_host("postgresql://db/shop", "x") == "postgresql://x/shop"
    assert host_of(URL) == "10.88.0.1"


@dataclass
class Config:
    """A Secret holding a URL; restarts counted."""

    url: str | None = URL
    restarts: int = 0
    where: str = "default/secret/shop-database[url]"

    def database_url(self) -> str | None:
        return self.url

    def set_database_url(self, url: str) -> None:
        self.url = url

    def restart(self) -> str:
        self.restarts += 1
        return "stamp"

    def rollout(self) -> RolloutStatus:
        raise NotImplementedError


def test_the_wrong_host_is_rolled_out_and_the_entry_keeps_hosts_only() -> None:
    config = Config()
    fault = WrongDatabaseHost(config, "shop-db.invalid", "default", "shop")
    entry = fault.rollback_entry()
    assert entry.kind == DATABASE_HOST
    assert entry.args["host"] == "10.88.0.1"
    assert "s3cret" not in repr(entry)
    fault.apply()
    assert (host_of(config.url or ""), config.restarts) == ("shop-db.invalid", 1)
    fault.rollback()
    assert (config.url, config.restarts) == (URL, 2)
    fault.rollback()  # the host is right already: nothing written, no restart
    assert config.restarts == 2


def test_a_recovery_that_fixed_the_host_leaves_the_rollback_nothing() -> None:
    config = Config()
    fault = WrongDatabaseHost(config, "shop-db.invalid", "default", "shop")
    fault.rollback_entry()
    fault.apply()
    config.url = with_host(config.url or "", "10.88.0.9")  # the recovery chose another host
    fault.rollback()
    assert host_of(config.url) == "10.88.0.9"


def test_no_url_is_no_fault() -> None:
    fault = WrongDatabaseHost(Config(url=None), "shop-db.invalid", "default", "shop")
    fault.rollback_entry()
    with pytest.raises(InjectionFailed, match="no database URL"):
        fault.apply()


def test_the_policy_denies_egress_but_dns_and_is_deleted_alone() -> None:
    manifest = database_egress_manifest("p", {"app": "shop"})
    assert manifest["spec"]["policyTypes"] == ["Egress"]
    assert manifest["spec"]["podSelector"] == {"matchLabels": {"app": "shop"}}
    assert {p["port"] for p in manifest["spec"]["egress"][0]["ports"]} == {53}

    @dataclass
    class Routing:
        namespace: str = "default"
        made: list[str] = field(default_factory=list)
        deleted: list[str] = field(default_factory=list)

        def policies(self) -> tuple[object, ...]:
            return ()

        def create_policy(self, manifest: Mapping[str, object]) -> None:
            self.made.append(str(manifest["metadata"]))

        def delete_policy(self, name: str) -> bool:
            self.deleted.append(name)
            return True

    routing = Routing()
    fault = DenyDatabaseEgress(routing, "p", {"app": "shop"})  # type: ignore[arg-type]
    assert fault.rollback_entry().target == "default/networkpolicy/p"
    fault.apply()
    fault.rollback()
    assert routing.deleted == ["p"]


def test_the_kinds_are_registered_for_drills_rollback() -> None:
    registry = RollbackRegistry()
    register_rollbacks(registry)
    for kind in (DATABASE_STOPPED, SERVER_SETTINGS, DATABASE_HOST):
        assert kind in registry.kinds(), kind


def test_a_host_entry_without_its_secret_is_refused() -> None:
    entry = RollbackEntry(DATABASE_HOST, "default/deployment/shop", {"host": "h"})
    with pytest.raises(ConfigError, match="not <namespace>/secret/<name>"):
        restore_database_host(entry)


def test_crash_recovery_is_read_from_the_log() -> None:
    log = (
        "2026-12-05 11:00:00.1 UTC [9] LOG:  database system was interrupted; last known up at x\n"
        "2026-12-05 11:00:00.2 UTC [9] LOG:  checkpoint starting\n"
        "2026-12-05 11:00:00.3 UTC [9] LOG:  redo starts at 0/1A2B3C\n"
        "2026-12-05 11:00:00.4 UTC [9] LOG:  redo done at 0/1B0000 system usage: ...\n"
    )
    assert crash_recovery_lines(log) == [
        "database system was interrupted; last known up at x",
        "redo starts at 0/1A2B3C",
        "redo done at 0/1B0000 system usage: ...",
    ]


def test_the_secret_is_compared_field_by_field() -> None:
    server = "postgresql://app@10.88.0.1:5433/shop"
    assert dsn_differences(URL, server) == []
    wrong = with_host(URL, "shop-db.invalid")
    assert dsn_differences(wrong, server) == ["host shop-db.invalid (server: 10.88.0.1)"]


def test_the_defect_switch_knows_its_values() -> None:
    assert db_down_defect({}) == ""
    assert db_down_defect({"DRILLS_DBDOWN_DEFECT": "async-commit"}) == "async-commit"
    with pytest.raises(pytest.UsageError, match="known defects"):
        db_down_defect({"DRILLS_DBDOWN_DEFECT": "fsync"})
