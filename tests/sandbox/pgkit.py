"""Helpers for the data-tier sandbox tests: a throw-away local PostgreSQL and a ledger writer."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from drills.core.clock import SystemClock
from drills.load.ledger import WriteLedger
from drills.sandbox.aws import MotoServer
from drills.sandbox.postgres import LocalPostgres, LocalPostgresFactory
from drills.targets.adapters.postgres import PostgresDatabase, insert_order


@dataclass
class PgKit:
    """One primary server with its factory, admin and application handles."""

    root: Path
    primary: LocalPostgres
    factory: LocalPostgresFactory
    app: PostgresDatabase
    admin: PostgresDatabase
    extra: list[LocalPostgres] = field(default_factory=list)

    def adopt(self, name: str) -> None:
        """Remember an instance built by a factory so it is removed at the end."""
        self.extra.append(self.factory.empty(name))


@contextmanager
def local_postgres(*, max_connections: int = 30) -> Iterator[PgKit]:
    """A primary with the orders table, removed (with every extra instance) on exit."""
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="drills-pg-"))
    os.chmod(root, 0o755)
    primary = LocalPostgres(root, max_connections=max_connections)
    kit = PgKit(
        root=root,
        primary=primary,
        factory=LocalPostgresFactory(root, max_connections=max_connections),
        app=PostgresDatabase("primary", primary.start()),
        admin=PostgresDatabase("primary-admin", primary.admin_dsn()),
    )
    try:
        kit.app.ensure_orders_table()
        yield kit
    finally:
        for instance in kit.extra:
            instance.remove()
        primary.remove(archive=True)
        shutil.rmtree(root, ignore_errors=True)


class LedgerWriter(threading.Thread):
    """Inserts orders one by one through psycopg; records each acknowledged one in the ledger."""

    def __init__(self, dsn: str, ledger: WriteLedger, *, prefix: str = "w") -> None:
        super().__init__(daemon=True, name=f"ledger-writer-{prefix}")
        self.dsn, self.ledger, self.prefix = dsn, ledger, prefix
        self.clock = SystemClock()
        self.halt = threading.Event()
        self.acknowledged = 0
        self.errors: list[str] = []

    def run(self) -> None:
        """Write until halted or until the database refuses (bounded: 100 000 writes)."""
        with psycopg.connect(self.dsn, application_name="drills-ledger-writer") as conn:
            for index in range(100_000):
                if self.halt.is_set():
                    return
                key = f"{self.prefix}-{index}"
                try:
                    _, digest = insert_order(conn, key, "widget", index % 7 + 1)
                except psycopg.Error as exc:
                    self.errors.append(str(exc).strip())
                    return
                self.ledger.record(key, self.clock.now(), digest)
                self.acknowledged += 1

    def stop(self) -> None:
        """Halt and join."""
        self.halt.set()
        self.join(timeout=10)


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """A moto server for the duration of the block; yields its endpoint URL."""
    moto = MotoServer()
    try:
        yield moto.start()
    finally:
        moto.stop()
