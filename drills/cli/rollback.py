"""`drills rollback`: replay what a crashed run left pending in the persistent ledger."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from drills.core.errors import ConfigError
from drills.core.safety import RollbackLedger, RollbackRegistry
from drills.faults.registry import default_registry

__all__ = ["replay"]


def replay(
    ledger_path: Path,
    console: Console,
    *,
    registry: RollbackRegistry | None = None,
    dry_run: bool = False,
) -> int:
    """Undo every pending entry, oldest first; returns the exit code (1 if any failed)."""
    ledger = RollbackLedger(ledger_path)
    try:
        pending = ledger.pending()
        registry = registry or default_registry()
    except ConfigError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    if not pending:
        console.print(f"nothing to roll back: no pending entries in {ledger_path}")
        return 0
    failures = 0
    for entry in pending:
        where = (
            f"{entry.kind} on {entry.target} (run {entry.run_id or '?'}, {entry.scenario or '?'})"
        )
        if dry_run:
            console.print(f"[dry-run] would roll back {where}", markup=False)
            continue
        try:
            registry.run(entry)
        except Exception as exc:
            failures += 1
            console.print(f"[red]failed[/] {where}: {type(exc).__name__}: {exc}")
            continue
        ledger.mark_done(entry.entry_id)
        console.print(f"[green]rolled back[/] {where}")
    if failures:
        console.print(
            f"[red]{failures} of {len(pending)} rollback(s) failed[/]; they stay pending in "
            f"{ledger_path}. Fix the cause and run `drills rollback` again."
        )
        return 1
    return 0
