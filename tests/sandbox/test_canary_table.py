"""The canary table on a real PostgreSQL: written, read back, gapped by an outage, dropped.

What the canary ledger's RPO and gap figures rest on: a canary counts only once COMMIT
returned, a server stopped with `-m immediate` turns writes into recorded failures (not a stalled
writer), writing resumes by itself once the server is back, and the rollback a crashed drill
leaves behind (`drills rollback`) drops the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from drills.core.canary import (
    CanarySettings,
    acknowledged_writes,
    canary_table,
    failed_attempts,
    longest_gap,
)
from drills.core.clock import SystemClock
from drills.core.dataloss import compare_ledger
from drills.core.safety import Replayed
from drills.core.waiting import wait_until
from drills.load.canary import CanaryTableChange, CanaryWriter
from drills.targets.adapters.canary import PostgresCanaryTable, read_canaries
from drills.targets.adapters.data_rollbacks import drop_canary_table
from tests.sandbox.pgkit import PgKit, local_postgres

pytestmark = [pytest.mark.sandbox]


@pytest.fixture
def kit() -> Iterator[PgKit]:
    with local_postgres() as kit:
        yield kit


def _committed(writer: CanaryWriter) -> int:
    return sum(1 for a in writer.attempts() if a.committed)


def _wait(writer: CanaryWriter, what: str, check: Callable[[], object]) -> None:
    wait_until(
        lambda: bool(check()), clock=writer.clock, timeout_s=30, poll_s=0.05, description=what
    )


def test_an_outage_is_a_gap_of_failures_and_every_committed_canary_survives(kit: PgKit) -> None:
    table = PostgresCanaryTable(kit.app.dsn(), canary_table("unit-run-1"))
    writer = CanaryWriter(table, CanarySettings(rate_per_s=50), SystemClock(), timeout_s=1.0)
    change = CanaryTableChange(writer, kit.app.dsn(), "unit-run-1")
    change.apply()
    writer.start()
    try:
        _wait(writer, "20 canaries committed", lambda: _committed(writer) >= 20)
        kit.primary.stop("immediate")
        fault_at_s = writer.clock.now()
        _wait(writer, "a failed canary", lambda: failed_attempts(writer.attempts()))
        kit.primary.start()
        before = _committed(writer)
        _wait(writer, "canaries committed again", lambda: _committed(writer) >= before + 10)
    finally:
        ended_s = writer.stop()
    attempts = writer.attempts()
    present = read_canaries(kit.app.dsn(), table.name)
    assert present is not None
    report = compare_ledger(
        acknowledged_writes(table.name, attempts), present, fault_at_s=fault_at_s
    )
    assert report.lost == 0, report.describe_lost()  # crash recovery kept every committed canary
    assert report.acknowledged == _committed(writer)
    gap = longest_gap(attempts, ended_s=ended_s)
    assert gap is not None
    assert gap.failed >= 1
    assert gap.start_s <= fault_at_s <= gap.end_s
    change.rollback()
    assert read_canaries(kit.app.dsn(), table.name) is None


def test_the_recorded_rollback_drops_the_table_once(kit: PgKit) -> None:
    table = PostgresCanaryTable(kit.app.dsn(), canary_table("unit-run-2"))
    writer = CanaryWriter(table, CanarySettings(), SystemClock())
    change = CanaryTableChange(writer, kit.app.dsn(), "unit-run-2")
    change.apply()
    table.write(1, "x", timeout_s=2)
    table.close()
    entry = change.rollback_entry()
    assert "password" not in str(entry.args["dsn"])
    assert drop_canary_table(entry) is Replayed.RESTORED
    assert drop_canary_table(entry) is Replayed.ALREADY
    assert table.name not in kit.admin.tables()


def test_a_database_without_the_table_reads_as_none(kit: PgKit) -> None:
    assert read_canaries(kit.app.dsn(), canary_table("never-created")) is None
