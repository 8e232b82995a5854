"""REINSTATE with fakes: the plan survives the ledger, the source is chosen, the URL goes home."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from drills.core.clock import FakeClock
from drills.core.errors import DrillError
from drills.core.secrets import without_password
from drills.targets.adapters.reinstate import (
    Reinstated,
    ReinstatePlan,
    reinstate,
)
from tests.unit.recovery.test_repoint import FakeConfig

Status = Literal["absent", "stopped", "running"]


@dataclass
class FakeServer:
    """Records the tools run and whether it was removed."""

    state: Status = "running"
    tools: list[tuple[str, list[str]]] = field(default_factory=list)

    def status(self) -> Status:
        return self.state

    def dsn(self, dbname: str | None = None) -> str:
        return f"postgresql://app@127.0.0.1:6000/{dbname or 'shop'}"

    def admin_dsn(self, dbname: str | None = None) -> str:
        return f"postgresql://postgres@127.0.0.1:6000/{dbname or 'shop'}"

    def run_tool(
        self, program: str, args: list[str], *, timeout_s: float = 300.0, check: bool = True
    ) -> str:
        self.tools.append((program, list(args)))
        return ""

    def remove(self, *, archive: bool = False) -> None:
        self.state = "absent"


def _plan(tmp_path: Path, fallback: str = "") -> ReinstatePlan:
    return ReinstatePlan(
        postgres_root=str(tmp_path),
        restored="restored-x",
        fallback_dump=fallback,
        primary_url="postgresql://app@127.0.0.1:5432/shop",
        kubeconfig="/k",
        context="drills-sandbox",
        namespace="default",
        deployment="shop",
    )


def _run(
    plan: ReinstatePlan, primary: FakeServer, restored: FakeServer, config: FakeConfig
) -> Reinstated:
    return reinstate(
        plan,
        primary=primary,  # type: ignore[arg-type]
        restored=restored,  # type: ignore[arg-type]
        config=config,
        clock=config.clock,
    )


def test_plan_round_trips_through_rollback_args(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert ReinstatePlan.from_args(plan.args()) == plan
    args = plan.args()
    del args["restored"]
    with pytest.raises(DrillError, match="restored"):
        ReinstatePlan.from_args(args)


def test_running_restored_instance_is_the_source_then_removed(tmp_path: Path) -> None:
    primary, restored = FakeServer(), FakeServer()
    config = FakeConfig(FakeClock(), url="postgresql://app@127.0.0.1:6000/shop")
    done = _run(_plan(tmp_path), primary, restored, config)
    # pg_dump for the refill, then psql's \copy of what landed there after it (the drain)
    assert [tool for tool, _ in restored.tools] == ["pg_dump", "psql"]
    assert "\\copy" in restored.tools[1][1][-1]
    # is the table still there (to copy aside rows only the primary has), the refill, then the
    # drained rows put back
    [(check, query), (tool, args), (drain, _)] = primary.tools
    assert (check, tool, drain) == ("psql", "pg_restore", "psql")
    assert "to_regclass" in query[-1]
    assert "--clean" in args
    assert config.url == "postgresql://app@127.0.0.1:5432/shop"
    assert done.repointed
    assert done.removed
    assert restored.state == "absent"


def test_a_restore_the_service_never_used_is_not_copied_home(tmp_path: Path) -> None:
    dump = tmp_path / "dump.pgc"
    dump.write_bytes(b"PGDMP")
    primary, restored = FakeServer(), FakeServer()  # running, maybe half restored
    config = FakeConfig(FakeClock())  # the service still reads the primary
    done = _run(_plan(tmp_path, str(dump)), primary, restored, config)
    assert restored.tools == []
    assert primary.tools[0][1][-1] == str(dump)
    assert done.removed


def test_without_a_restore_the_snapshot_dump_refills_and_nothing_restarts(tmp_path: Path) -> None:
    dump = tmp_path / "dump.pgc"
    dump.write_bytes(b"PGDMP")
    primary, restored = FakeServer(), FakeServer(state="absent")
    config = FakeConfig(FakeClock())  # the Secret was never created: the service is untouched
    done = _run(_plan(tmp_path, str(dump)), primary, restored, config)
    assert primary.tools[0][1][-1] == str(dump)
    assert done.source.startswith("snapshot dump")
    assert not done.repointed
    assert config.restarts == []
    assert dump.exists()  # the snapshot is the drill's, not the reinstate's to delete


def test_without_password_keeps_everything_else() -> None:
    assert without_password("postgresql://u:pw@db:5432/shop") == "postgresql://u@db:5432/shop"
    assert without_password("postgresql://u@db/shop") == "postgresql://u@db/shop"


def _service_plan(tmp_path: Path, fallback: str = "") -> ReinstatePlan:
    """A service with its own database and role (as the notes demo has), kept rows aside."""
    args = _plan(tmp_path, fallback).args()
    args.update(
        primary_url="postgresql://notes@127.0.0.1:5432/notes",
        deployment="notes",
        secret="notes-database",
        database="notes",
        role="notes",
        kept_table="notes",
        kept_key="note_id",
        kept_skip="",
    )
    return ReinstatePlan.from_args(args)


def test_an_entry_recorded_before_the_service_keys_replays_as_the_shops(tmp_path: Path) -> None:
    args = _plan(tmp_path).args()
    for newer in ("database", "role"):
        del args[newer]
    plan = ReinstatePlan.from_args(args)
    assert (plan.database, plan.role, plan.secret, plan.kept_table) == ("", "", *_SHOP)
    primary, restored = FakeServer(), FakeServer()
    config = FakeConfig(FakeClock(), url="postgresql://app@127.0.0.1:6000/shop")
    assert _run(plan, primary, restored, config).repointed
    assert primary.tools[1][1][-2] == "postgresql://postgres@127.0.0.1:6000/shop"


_SHOP = ("shop-database", "orders")


def test_a_service_of_its_own_is_refilled_in_its_database_and_pointed_home(
    tmp_path: Path,
) -> None:
    primary, restored = FakeServer(), FakeServer()
    # the service runs on the restored instance with its own role: that is the source
    config = FakeConfig(FakeClock(), url="postgresql://notes@127.0.0.1:6000/notes")
    done = _run(_service_plan(tmp_path), primary, restored, config)
    assert done.source == "restored instance restored-x"
    dump_args = restored.tools[0][1]
    assert dump_args[-1] == "postgresql://postgres@127.0.0.1:6000/notes"
    [(_, check), (_, refill), (_, drain)] = primary.tools
    assert "'public.\"notes\"'" in check[-1]
    assert refill[-2] == "postgresql://postgres@127.0.0.1:6000/notes"
    assert "postgresql://postgres@127.0.0.1:6000/notes" in drain
    assert config.url == "postgresql://notes@127.0.0.1:5432/notes"
    assert done.repointed


def test_a_service_url_for_another_role_is_not_taken_for_the_restored_one(
    tmp_path: Path,
) -> None:
    dump = tmp_path / "dump.pgc"
    dump.write_bytes(b"PGDMP")
    primary, restored = FakeServer(), FakeServer()
    config = FakeConfig(FakeClock(), url="postgresql://app@127.0.0.1:6000/notes")
    done = _run(_service_plan(tmp_path, str(dump)), primary, restored, config)
    assert done.source.startswith("snapshot dump")
    assert restored.tools == []
    assert primary.tools[0][1][-2:] == ["postgresql://postgres@127.0.0.1:6000/notes", str(dump)]
