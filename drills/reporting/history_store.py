"""The history store: every run's figures in SQLite (reports/history.sqlite), kept from journals.

One row per drill per run (environment, run id, start, operator, ticket, verdict, RTO, RPO with
their targets). `load_history` brings the store up to date before reading it: a journal that is
not in the store yet, or changed since it was read (mtime or size), is (re-)read; everything
else is left alone, so syncing twice changes nothing. A missing store is built from the
journals; a corrupt one (or one of another schema) is deleted and rebuilt, never fatal. Rows of
runs whose directories were pruned stay: the store is the history across quarters.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from drills.core.objectives import Verdict
from drills.core.trend import RunFigures
from drills.reporting.history import journal_figures, journal_paths, read_journal

__all__ = ["STORE_NAME", "load_history"]

STORE_NAME = "history.sqlite"
_SCHEMA_VERSION = 1
_COLUMNS = (
    "environment",
    "drill",
    "run_id",
    "started_at",
    "verdict",
    "operator",
    "ticket",
    "rto_s",
    "rto_target_s",
    "rpo_s",
    "rpo_target_s",
)
_SCHEMA = f"""
CREATE TABLE journals (name TEXT PRIMARY KEY, run_id TEXT NOT NULL,
                       mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL);
CREATE TABLE figures (environment TEXT NOT NULL, drill TEXT NOT NULL, run_id TEXT NOT NULL,
                      started_at TEXT NOT NULL, verdict TEXT NOT NULL, operator TEXT NOT NULL,
                      ticket TEXT NOT NULL, rto_s REAL, rto_target_s REAL, rpo_s REAL,
                      rpo_target_s REAL, PRIMARY KEY (run_id, drill));
CREATE INDEX figures_by_env ON figures (environment, drill, started_at);
PRAGMA user_version = {_SCHEMA_VERSION};
"""


def load_history(
    reports_dir: Path, *, drill: str | None = None, environment: str | None = None
) -> list[RunFigures]:
    """Sync reports_dir/history.sqlite with the journals, then return its rows, oldest first.

    `drill`/`environment` filter. Raises ConfigError on an unreadable journal (it names the
    file). Without a reports directory there is no history and nothing is written.
    """
    if not reports_dir.is_dir():
        return []
    with _open(reports_dir / STORE_NAME) as db:
        _sync(db, reports_dir)
        rows = db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM figures "
            "WHERE (?1 IS NULL OR drill = ?1) AND (?2 IS NULL OR environment = ?2) "
            "ORDER BY started_at, run_id, environment, drill",
            (drill, environment),
        ).fetchall()
    return [_figures(row) for row in rows]


@contextlib.contextmanager
def _open(path: Path) -> Iterator[sqlite3.Connection]:
    """The store at `path`, created or rebuilt when missing, corrupt or of another schema."""
    db = _connect(path)
    try:
        yield db
    finally:
        db.close()


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=10)
    with contextlib.suppress(sqlite3.DatabaseError):  # "file is not a database" and kin
        if _version(db) == _SCHEMA_VERSION:
            return db
    db.close()  # missing, corrupt or another schema: the journals rebuild everything
    for stale in (path, path.with_name(f"{path.name}-journal")):
        stale.unlink(missing_ok=True)
    db = sqlite3.connect(path, timeout=10)
    db.executescript(_SCHEMA)
    return db


def _version(db: sqlite3.Connection) -> int:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version == _SCHEMA_VERSION:
        db.execute("SELECT count(*) FROM figures JOIN journals USING (run_id)").fetchone()
    return version


def _sync(db: sqlite3.Connection, reports_dir: Path) -> None:
    known = {
        name: (mtime, size)
        for name, mtime, size in db.execute("SELECT name, mtime_ns, size FROM journals")
    }
    with db:  # one transaction: a journal that cannot be read leaves the store as it was
        for path in journal_paths(reports_dir):
            stat = path.stat()
            name = path.parent.name
            if known.get(name) == (stat.st_mtime_ns, stat.st_size):
                continue
            _ingest(db, name, path, (stat.st_mtime_ns, stat.st_size))


def _ingest(db: sqlite3.Connection, name: str, path: Path, stamp: tuple[int, int]) -> None:
    journal = read_journal(path)
    old = db.execute("SELECT run_id FROM journals WHERE name = ?", (name,)).fetchone()
    for run_id in {journal.run_id, *(old or ())}:
        db.execute("DELETE FROM figures WHERE run_id = ?", (run_id,))
    db.executemany(
        f"INSERT OR REPLACE INTO figures ({', '.join(_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in _COLUMNS)})",
        [_row(f) for f in journal_figures(journal)],
    )
    db.execute(
        "INSERT OR REPLACE INTO journals (name, run_id, mtime_ns, size) VALUES (?, ?, ?, ?)",
        (name, journal.run_id, *stamp),
    )


def _row(figures: RunFigures) -> tuple[str | float | None, ...]:
    return tuple(
        str(figures.verdict) if column == "verdict" else getattr(figures, column)
        for column in _COLUMNS
    )


def _figures(row: tuple[str | float | None, ...]) -> RunFigures:
    values = dict(zip(_COLUMNS, row, strict=True))
    return RunFigures(
        environment=str(values["environment"]),
        drill=str(values["drill"]),
        run_id=str(values["run_id"]),
        started_at=str(values["started_at"]),
        verdict=Verdict(str(values["verdict"])),
        operator=str(values["operator"]),
        ticket=str(values["ticket"]),
        rto_s=_seconds(values["rto_s"]),
        rto_target_s=_seconds(values["rto_target_s"]),
        rpo_s=_seconds(values["rpo_s"]),
        rpo_target_s=_seconds(values["rpo_target_s"]),
    )


def _seconds(value: str | float | None) -> float | None:
    return None if value is None else float(value)
