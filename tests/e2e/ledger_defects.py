"""Defects of the write path for the end-to-end twins: writes lost, writes refused.

- `delete_orders_after_step` runs a drill through the real CLI and, once the drill prints that
  a given step finished (the fault is in place), deletes a few of this drill's acknowledged
  orders through the sandbox's admin DSN, behind the shop's back: acknowledged writes really
  lost. The drill must FAIL and name them.
- `delete_notes` is the same deletion for the notes demo service (its own database and table),
  for `delete_orders_after_step(..., delete=delete_notes)`.
- `notes_journeys(service)` is the notes API as `[[services.<service>.journeys]]`: the generic
  user's write and read-back, for the modules that drill notes without a locustfile.
- `writes_refused` revokes INSERT on the orders table from the shop's role for the duration of
  a drill (and grants it back), so no write is ever acknowledged; `tolerant_profile` writes a
  profile whose error threshold lets the refused writes through the steady state. The drill
  must then say it could not verify the RPO, never PASS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import conninfo, sql

from tests.e2e.drill_cli import REPO, DrillRun, sandbox_endpoints

STEP_TIMEOUT_S = 240.0  # the fault's step ends well within this on the sandbox
Deleter = Callable[[Path, str], tuple[str, ...]]  # (project root, server time) -> keys deleted


@dataclass(frozen=True)
class LostWrites:
    """A drill run during which acknowledged orders were deleted, and which ones."""

    run: DrillRun
    deleted: tuple[str, ...]


def _admin(root: Path) -> psycopg.Connection[Any]:
    return psycopg.connect(sandbox_endpoints(root)["admin_dsn"], autocommit=True, connect_timeout=5)


def database_now(root: Path) -> str:
    """The database server's clock (rows newer than this are a later drill's)."""
    with _admin(root) as conn:
        row = conn.execute("SELECT clock_timestamp()::text").fetchone()
    assert row is not None
    return str(row[0])


def delete_acknowledged_orders(root: Path, *, since: str, count: int = 3) -> tuple[str, ...]:
    """Delete `count` orders written after `since` and at least a second ago (so answered)."""
    with _admin(root) as conn:
        rows = conn.execute(
            "DELETE FROM orders WHERE id IN (SELECT id FROM orders"
            " WHERE created_at > %s::timestamptz AND created_at < clock_timestamp() - interval"
            " '1 second' ORDER BY id DESC LIMIT %s) RETURNING order_key",
            [since, count],
        ).fetchall()
    return tuple(str(row[0]) for row in rows)


def delete_orders_after_step(
    root: Path, drill: str, step: str, *args: str, delete: Deleter | None = None
) -> LostWrites:
    """`drills run DRILL ARGS`; when `step` has finished, delete three acknowledged writes.

    `delete(root, since)` deletes them and returns their keys: by default three of the shop's
    orders (`delete_acknowledged_orders`).
    """
    delete = delete or (lambda where, since: delete_acknowledged_orders(where, since=since))
    since = database_now(root)
    command = [sys.executable, "-m", "drills.cli", "--root", str(root), "run", drill, *args]
    environ = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    lines: list[str] = []
    seen = threading.Event()
    with subprocess.Popen(
        command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        reader = threading.Thread(target=_read, args=(process.stdout, lines, step, seen))
        reader.start()
        deleted: tuple[str, ...] = ()
        if seen.wait(STEP_TIMEOUT_S):
            deleted = delete(root, since)
        code = process.wait(timeout=STEP_TIMEOUT_S + 300)
        reader.join(timeout=10)
    journal = json.loads((root / "reports" / "latest" / "journal.json").read_text())
    [scenario] = journal["scenarios"]
    assert seen.is_set(), f"the drill never printed the step {step!r}:\n" + "".join(lines[-60:])
    return LostWrites(DrillRun(code, scenario, "".join(lines)), deleted)


def _read(stream: IO[str], lines: list[str], step: str, seen: threading.Event) -> None:
    for line in stream:
        lines.append(line)
        if step in line and "✓" in line:
            seen.set()


@contextmanager
def writes_refused(root: Path) -> Iterator[str]:
    """REVOKE INSERT on orders from the shop's role while the block runs; yields the role."""
    role = conninfo.conninfo_to_dict(sandbox_endpoints(root)["database_dsn"])["user"]
    assert isinstance(role, str)
    with _admin(root) as conn:
        conn.execute(sql.SQL("REVOKE INSERT ON orders FROM {}").format(sql.Identifier(role)))
    try:
        yield role
    finally:
        with _admin(root) as conn:
            conn.execute(sql.SQL("GRANT INSERT ON orders TO {}").format(sql.Identifier(role)))


def tolerant_profile(root: Path, name: str, *, error_ratio: float) -> str:
    """A copy of the sandbox profile whose users may fail up to `error_ratio`; returns its name.

    With every order refused a quarter of the requests fail, which the sandbox's 1 % would
    call an unhealthy steady state before the fault; the twin needs the drill to get as far as
    judging the ledger.
    """
    environments = root / "fixtures" / "environments"
    text = (environments / "sandbox.toml").read_text()
    text = text.replace('name = "sandbox"', f'name = "{name}"', 1)
    text = text.replace("error_ratio = 0.01", f"error_ratio = {error_ratio}", 1)
    (environments / f"{name}.toml").write_text(text)
    return name


def assert_lost_writes_named(lost: LostWrites) -> dict[str, Any]:
    """The drill FAILed on its service's RPO naming each deleted write; returns its entry."""
    scenario = lost.run.scenario
    print(f"deleted {lost.deleted}: {scenario['verdict']}: {scenario['reason']}")  # noqa: T201
    assert len(lost.deleted) == 3, "the drill had acknowledged no order to delete"
    assert (lost.run.code, scenario["verdict"]) == (1, "FAIL"), scenario["reason"]
    assert scenario["reason"].startswith(f"RpoBreached: {scenario['service']} RPO"), scenario[
        "reason"
    ]
    assert all(key in scenario["reason"] for key in lost.deleted), scenario["reason"]
    seen = {f["name"]: f for f in scenario["figures"]}
    assert seen["acknowledged writes lost"]["value"] >= 3
    return scenario


def delete_notes(root: Path, since: str) -> tuple[str, ...]:
    """Three notes this drill's users stored (at least a second ago), deleted as the admin."""
    dsn = conninfo.make_conninfo(sandbox_endpoints(root)["admin_dsn"], dbname="notes")
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "DELETE FROM notes WHERE note_id IN (SELECT note_id FROM notes WHERE updated_at >"
            " %s::timestamptz AND updated_at < clock_timestamp() - interval '1 second'"
            " ORDER BY updated_at DESC LIMIT 3) RETURNING note_id",
            [since],
        ).fetchall()
    return tuple(str(row[0]) for row in rows)


def notes_journeys(service: str) -> str:
    """The notes API as journeys of `[services.<service>]`: PUT a fresh note, read one back."""
    return f"""[[services.{service}.journeys]]  # the generic user's: no locustfile
name = "write a note"
method = "PUT"
path = "/notes/{{key}}"
body = '{{"text": "drill {{n}}"}}'
weight = 2
expect = [200, 201]
ack = true

[[services.{service}.journeys]]
name = "read a note back"
path = "/notes/{{key}}"
read_of = "write a note"
weight = 3
"""
