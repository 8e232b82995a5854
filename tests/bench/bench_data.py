"""Data-tier benchmark: restore and PITR through the harness vs raw PostgreSQL tools, ledger speed.

Side by side in one run, on one local server holding ROWS orders:

- restore_overhead_ratio: `LocalSnapshotStore.restore()` of a pg_dump snapshot into a new instance
  ÷ the same restore done by hand (initdb, pg_ctl start, CREATE ROLE/DATABASE with psql,
  pg_restore), median of REPEAT alternating runs each. Verification (checksums) is extra work the
  raw tools do not do; its time is printed apart.
- pitr_overhead_ratio: `LocalPitr.recover()` to a named restore point ÷ copying the base backup,
  writing recovery.signal + the same settings, pg_ctl start and polling pg_is_in_recovery() with
  psql until it is false.
- ledger_verify_rows_per_s: `verify_ledger` of ROWS acknowledged writes against ROWS rows.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import psycopg

from drills.core.clock import SystemClock
from drills.core.dataloss import payload_hash, verify_ledger
from drills.core.waiting import wait_until
from drills.load.ledger import WriteLedger
from drills.sandbox.postgres import LocalPostgres, LocalPostgresFactory, free_port
from drills.targets.adapters.localdb import LocalPitr, LocalSnapshotStore
from drills.targets.adapters.postgres import PostgresDatabase
from drills.targets.ports.data import RecoveryRequest

ROWS = 50_000
REPEAT = 5


def _seed(primary: LocalPostgres, ledger: WriteLedger) -> None:
    clock = SystemClock()
    statement = "COPY orders (order_key, item, quantity, payload_hash) FROM STDIN"
    with psycopg.connect(primary.dsn()) as conn, conn.cursor() as cur, cur.copy(statement) as copy:
        for index in range(ROWS):
            key = f"bench-{index}"
            digest = payload_hash(key, "widget", index % 9 + 1)
            copy.write_row((key, "widget", index % 9 + 1, digest))
            ledger.record(key, clock.now(), digest)


class RawTools:
    """The same operations with the PostgreSQL programs only (as the unprivileged user)."""

    def __init__(self, primary: LocalPostgres) -> None:
        self.primary = primary
        self.started: list[Path] = []

    def cleanup(self) -> None:
        """Stop any raw instance a failed run left behind (by its data directory)."""
        for data in self.started:
            self.primary.runner.run(
                "pg_ctl", ["stop", "-m", "immediate", "-D", str(data)], check=False
            )

    def run(self, program: str, *args: str) -> str:
        runner = self.primary.runner
        return runner.run(program, list(args)).stdout

    def _start(self, data: Path, port: int, extra: str = "") -> None:
        conf = (
            f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n{extra}"
        )
        (data / "postgresql.auto.conf").write_text(conf)
        self.primary.own(data)
        self.started.append(data)
        self.run("pg_ctl", "start", "-w", "-D", str(data), "-l", str(data.parent / "raw.log"))

    def restore_dump(self, home: Path, dump: Path) -> None:
        data = home / "data"
        self.run(
            "initdb",
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "--wal-segsize=1",
            "--no-instructions",
        )
        port = free_port()
        self._start(data, port)
        dsn = f"postgresql://postgres@127.0.0.1:{port}"
        self.run("psql", "-X", "-q", "-d", f"{dsn}/postgres", "-c", "CREATE ROLE app LOGIN")
        self.run(
            "psql", "-X", "-q", "-d", f"{dsn}/postgres", "-c", "CREATE DATABASE shop OWNER app"
        )
        self.run("pg_restore", "--exit-on-error", "-d", f"{dsn}/shop", str(dump))
        self.run("pg_ctl", "stop", "-m", "immediate", "-D", str(data))

    def pitr(self, home: Path, backup: Path, point: str) -> None:
        data = home / "data"
        shutil.copytree(backup, data, symlinks=True)
        data.chmod(0o700)
        (data / "recovery.signal").touch()
        port = free_port()
        self._start(
            data,
            port,
            f"restore_command = 'cp {self.primary.archive_dir}/%f %p'\n"
            f"recovery_target_name = '{point}'\nrecovery_target_action = 'promote'\n",
        )
        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"

        def promoted() -> bool:
            out = self.run("psql", "-X", "-A", "-t", "-d", dsn, "-c", "SELECT pg_is_in_recovery()")
            return out.strip() == "f"

        wait_until(promoted, clock=SystemClock(), timeout_s=120, poll_s=0.05)
        self.run("pg_ctl", "stop", "-m", "immediate", "-D", str(data))


def _median_ratio(
    harness: Callable[[int], None], raw: Callable[[int], None]
) -> tuple[float, float, float]:
    clock = SystemClock()
    harness_s: list[float] = []
    raw_s: list[float] = []
    for attempt in range(REPEAT):
        for timings, action in ((harness_s, harness), (raw_s, raw)):
            started = clock.now()
            action(attempt)
            timings.append(clock.now() - started)
    h, r = statistics.median(harness_s), statistics.median(raw_s)
    return h / r, h, r


def _home(root: Path, name: str, primary: LocalPostgres) -> Path:
    home = root / name
    home.mkdir()
    primary.own(home)
    return home


def run() -> dict[str, float]:
    """Measure and print the data-tier figures."""
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="drills-bench-data-"))
    os.chmod(root, 0o755)
    primary = LocalPostgres(root, max_connections=30)
    factory = LocalPostgresFactory(root)
    made: list[LocalPostgres] = []
    clock = SystemClock()
    raw = RawTools(primary)
    try:
        primary.start()
        PostgresDatabase("primary", primary.dsn()).ensure_orders_table()
        ledger = WriteLedger(root / "ledger.jsonl", fsync=False)
        _seed(primary, ledger)
        store = LocalSnapshotStore(primary, factory=factory, work_dir=root / "snapshots")
        snap = store.take("dump")
        dump = root / "snapshots" / snap.snapshot_id / "dump.pgc"

        def harness_restore(attempt: int) -> None:
            name = f"h-restore-{attempt}"
            made.append(factory.empty(name))
            store.restore(snap.snapshot_id, new_name=name)
            made[-1].stop("immediate")

        restore_ratio, restore_h, restore_r = _median_ratio(
            harness_restore,
            lambda a: raw.restore_dump(_home(root, f"raw-restore-{a}", primary), dump),
        )
        check_db = factory.empty("verify-target")
        made.append(check_db)
        restored = store.restore(snap.snapshot_id, new_name="verify-target")
        started = clock.now()
        verified = store.verify(snap.snapshot_id, restored)
        verify_s = clock.now() - started
        assert verified.ok, verified.detail

        pitr = LocalPitr(primary, factory=factory, work_dir=root / "base")
        backup_id = pitr.base_backup()
        point = PostgresDatabase("admin", primary.admin_dsn()).create_restore_point("bench")
        pitr.flush_archive()

        def harness_pitr(attempt: int) -> None:
            name = f"h-pitr-{attempt}"
            made.append(factory.empty(name))
            pitr.recover(backup_id, RecoveryRequest(name=point.name), new_name=name)
            made[-1].stop("immediate")

        pitr_ratio, pitr_h, pitr_r = _median_ratio(
            harness_pitr,
            lambda a: raw.pitr(
                _home(root, f"raw-pitr-{a}", primary), root / "base" / backup_id, "bench"
            ),
        )
        checked = verify_ledger(ledger.writes(), restored, fault_at_s=clock.now(), clock=clock)
        assert checked.report is not None
        assert checked.report.lost == 0
    finally:
        for instance in made:
            instance.remove()
        primary.remove(archive=True)
        raw.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    figures = {
        "restore_overhead_ratio": restore_ratio,
        "pitr_overhead_ratio": pitr_ratio,
        "ledger_verify_rows_per_s": checked.rows_per_s,
    }
    print(  # noqa: T201
        f"restore of {ROWS} orders: harness {restore_h:.3f} s vs raw {restore_r:.3f} s "
        f"(ratio {restore_ratio:.3f}); checksum verification {verify_s:.3f} s extra\n"
        f"PITR to a restore point: harness {pitr_h:.3f} s vs raw {pitr_r:.3f} s "
        f"(ratio {pitr_ratio:.3f})\n"
        f"ledger verification: {checked.rows_checked} rows in {checked.duration_s:.3f} s "
        f"= {checked.rows_per_s:,.0f} rows/s"
    )
    return figures


if __name__ == "__main__":
    run()
