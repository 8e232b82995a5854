"""REPOINT and REINSTATE on a whole sandbox: the shop moves to a new instance and back.

The shop's pods read DATABASE_URL from Secret `shop-database` (the sandbox daemon creates it
with the primary's DSN); a `rollout restart` replaces them. A write through the service must
land in the instance the Secret names, and after the reinstate (replayed from a rollback entry,
as `drills rollback` does) the primary holds the new instance's rows and serves the shop again,
with no server left on the new one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from drills.cli.reinstate import service_config_from_plan
from drills.core.clock import SystemClock
from drills.core.dataloss import ORDERS_TABLE_DDL, canonical_payload
from drills.core.safety import RollbackEntry
from drills.faults.registry import default_registry
from drills.recovery.repoint import repoint
from drills.sandbox.postgres import LocalPostgres, LocalPostgresFactory
from drills.targets.adapters.localdb import LocalSnapshotStore
from drills.targets.adapters.postgres import PostgresDatabase
from drills.targets.adapters.reinstate import REINSTATE_KIND, ReinstatePlan
from drills.targets.ports.data import ServerFactory
from tests.sandbox.sandbox_root import sandbox_in_temp_root

pytestmark = pytest.mark.sandbox

CLOCK = SystemClock()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[dict[str, Any]]:
    with sandbox_in_temp_root(prefix="drills-repoint-") as root:
        endpoints = json.loads((root / ".drills" / "sandbox" / "endpoints.json").read_text())
        yield endpoints


def _order(service_url: str, key: str) -> int:
    body = canonical_payload(key, "widget", 2).encode()
    request = urllib.request.Request(
        f"{service_url}/orders", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(answer.status)


def _postgres_running_under(path: Path) -> bool:
    listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return str(path) in listed.stdout


def _plan(endpoints: dict[str, Any], restored: str) -> ReinstatePlan:
    return ReinstatePlan(
        postgres_root=endpoints["postgres_root"],
        restored=restored,
        fallback_dump="",
        primary_url=endpoints["database_dsn"],
        kubeconfig=endpoints["kubeconfig"],
        context="drills-sandbox",
        namespace=endpoints["namespace"],
        deployment="shop",
    )


def test_repoint_moves_writes_and_reinstate_brings_them_home(sandbox: dict[str, Any]) -> None:
    root = Path(sandbox["postgres_root"])
    factory = LocalPostgresFactory(root, max_connections=60)
    other: LocalPostgres = factory.empty("repoint-target")
    plan = _plan(sandbox, "repoint-target")
    config = service_config_from_plan(plan, clock=CLOCK)
    primary = PostgresDatabase("primary", sandbox["database_dsn"])
    try:
        other.start()
        other.apply_sql(ORDERS_TABLE_DDL)
        moved = repoint(config, other.dsn(), clock=CLOCK, timeout_s=120)
        print(moved.summary())  # noqa: T201 - the figure the drills report
        assert moved.previous == sandbox["database_dsn"]  # the daemon's Secret, as on a cluster
        assert config.database_url() == other.dsn()
        assert config.rollout().complete
        assert _order(sandbox["service_url"], "moved-1") == 201
        assert "moved-1" in PostgresDatabase("other", other.dsn()).orders_present()
        assert "moved-1" not in primary.orders_present()

        # What `drills rollback` does with a pending entry: the registry from the entry points.
        entry = RollbackEntry(REINSTATE_KIND, "database/primary", plan.args())
        default_registry().run(entry)
    finally:
        other.remove()
    assert other.status() == "absent"
    assert not _postgres_running_under(root / "repoint-target")
    assert config.database_url() == sandbox["database_dsn"]
    assert "moved-1" in primary.orders_present()  # the new instance's rows came home
    assert _order(sandbox["service_url"], "home-1") == 201
    assert "home-1" in primary.orders_present()


def test_a_drill_that_died_before_its_restore_is_reinstated_from_its_snapshot(
    sandbox: dict[str, Any],
) -> None:
    """The crash path: the table is gone, no restore exists, `drills rollback` replays."""
    root = Path(sandbox["postgres_root"])
    factory = cast(ServerFactory, LocalPostgresFactory(root, max_connections=60))
    store = LocalSnapshotStore(
        LocalPostgres(root, max_connections=60), factory=factory, work_dir=root / "test-snaps"
    )
    primary = PostgresDatabase("primary", sandbox["database_dsn"])
    try:
        assert _order(sandbox["service_url"], "before-crash") == 201
        snapshot = store.take("dump")
        primary.execute("DROP TABLE orders")  # the fault acted, then the drill process died
        dump = store.work_dir / snapshot.snapshot_id / "dump.pgc"
        plan = replace(_plan(sandbox, "never-restored"), fallback_dump=str(dump))
        default_registry().run(RollbackEntry(REINSTATE_KIND, "database/primary", plan.args()))
    finally:
        shutil.rmtree(store.work_dir, ignore_errors=True)
    assert "before-crash" in primary.orders_present()
    assert _order(sandbox["service_url"], "after-replay") == 201
    assert "after-replay" in primary.orders_present()
