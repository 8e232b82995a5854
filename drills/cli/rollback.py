"""`drills rollback`: replay what a crashed run left pending in the persistent ledger.

Each pending entry is replayed once, oldest first, and gets one line:
`<id> <kind> <target>: restored | already as recorded (nothing done) | FAILED: <why> (stays
pending)`. An entry is marked done only after its function returned, so a rollback that could
not run (cluster unreachable) stays pending and `drills run` keeps refusing. Replay functions
compare the state with the recorded one first, so replaying twice, after a partial rollback or
after a repair by hand acts at most once. `--discard ID --reason TEXT` gives an entry up instead
(recorded with the operator and the time). Replaying is refused while a run holds an
environment's lock (it would undo that run's live faults), and while another replay runs.
Exit codes: 0 every pending entry restored or already as recorded (or discarded); 1 any
failed; 2 refused or bad input.
"""

from __future__ import annotations

import fcntl
import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from drills.core.clock import SystemClock
from drills.core.errors import ConfigError
from drills.core.runlock import RunLock
from drills.core.safety import RollbackEntry, RollbackLedger, RollbackRegistry
from drills.faults.registry import default_registry

__all__ = ["discard", "pending_refusal", "refuse_under_run", "replay"]

USAGE = 2


def pending_refusal(pending: list[RollbackEntry], ledger_path: Path) -> str:
    """Why a run may not start while `pending` entries exist, naming them and both ways out."""
    listed = ", ".join(f"{e.entry_id} ({e.kind} {e.target})" for e in pending)
    return (
        f"{len(pending)} rollback(s) from an earlier run are still pending in {ledger_path}, so "
        f"a fault may still be in place: {listed}. Run `drills rollback` to replay them, or, "
        "once you have checked an entry by hand, `drills rollback --discard ID --reason TEXT`"
    )


def refuse_under_run(root: Path) -> str | None:
    """Why a replay may not run now (a run holds an environment's lock), or None."""
    for path in sorted((root / ".drills" / "locks").glob("*.lock")):
        holder = RunLock(path, path.stem).holder()
        if holder is not None:
            env = holder.env or path.stem
            return (
                f"environment '{env}' is in use by {holder.describe()}; replaying now would undo "
                f"that run's live faults (it rolls them back itself when it ends). Wait for it "
                f"or stop it with `drills halt --env {env}`, then run `drills rollback` again"
            )
    return None


def _line(entry: RollbackEntry, outcome: str) -> str:
    return f"{entry.entry_id} {entry.kind} {entry.target}: {outcome}"


@contextmanager
def _one_replay_at_a_time(ledger_path: Path) -> Iterator[bool]:
    """Hold `<ledger>.replay.lock` (flock); yields False when another replay holds it."""
    path = ledger_path.with_name(ledger_path.name + ".replay.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # drops the flock


def replay(
    ledger_path: Path,
    console: Console,
    *,
    registry: RollbackRegistry | None = None,
    dry_run: bool = False,
    root: Path | None = None,
) -> int:
    """Undo every pending entry, oldest first; returns the exit code (see the module docstring).

    `root` is the project root whose run locks are checked (None: none are). Under `dry_run`
    nothing is replayed: pending and discarded entries are listed.
    """
    ledger = RollbackLedger(ledger_path)
    try:
        pending = ledger.pending()
        if dry_run:
            return _show(ledger, pending, console)
        refusal = refuse_under_run(root) if root is not None else None
        if refusal is not None:
            raise ConfigError(f"drills rollback refused: {refusal}")
        registry = registry or default_registry()
    except ConfigError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        return USAGE
    if not pending:
        console.print(f"nothing to roll back: no pending entries in {ledger_path}")
        return 0
    with _one_replay_at_a_time(ledger_path) as alone:
        if not alone:
            console.print(f"[red]error:[/] another `drills rollback` is replaying {ledger_path}")
            return USAGE
        return _replay_pending(ledger, registry, console)


def _replay_pending(ledger: RollbackLedger, registry: RollbackRegistry, console: Console) -> int:
    pending = ledger.pending()  # again, under the replay lock: another replay may have finished
    failures = 0
    for entry in pending:
        try:
            outcome = registry.run(entry)
        except Exception as exc:
            failures += 1
            why = f"{type(exc).__name__}: {exc}"
            console.print(_line(entry, f"FAILED: {why} (stays pending)"), markup=False)
            continue
        ledger.mark_done(entry.entry_id)
        console.print(_line(entry, outcome.value), markup=False, highlight=False)
    if failures:
        console.print(
            f"[red]{failures} of {len(pending)} rollback(s) failed[/]; they stay pending in "
            f"{ledger.path}. Fix the cause and run `drills rollback` again, or give one up "
            "with `drills rollback --discard ID --reason TEXT`."
        )
        return 1
    return 0


def _show(ledger: RollbackLedger, pending: list[RollbackEntry], console: Console) -> int:
    for entry in pending:
        where = f"run {entry.run_id or '?'}, {entry.scenario or '?'}"
        console.print(_line(entry, f"pending, would replay ({where})"), markup=False)
    for gone in ledger.discarded():
        said = f"discarded by {gone.operator or '?'} at {gone.at or '?'}: {gone.reason}"
        console.print(_line(gone.entry, said), markup=False, highlight=False)
    if not pending:
        console.print(f"nothing to roll back: no pending entries in {ledger.path}")
    return 0


def discard(
    ledger_path: Path, console: Console, entry_id: str, *, reason: str, operator: str | None
) -> int:
    """Give one pending entry up with `reason`; 0 when recorded, 2 on no reason or unknown id."""
    ledger = RollbackLedger(ledger_path)
    who = operator or getpass.getuser()
    at = SystemClock().wall().isoformat(timespec="seconds")
    try:
        entry = ledger.discard(entry_id, reason=reason, operator=who, at=at)
    except ConfigError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        return USAGE
    console.print(
        _line(entry, f"discarded by {who} at {at}: {reason.strip()} (no longer pending)"),
        markup=False,
        highlight=False,
    )
    return 0
