"""The rollback kinds `drills rollback` can replay from the ledger, and how to find more.

A ledger line is data (`kind`, `target`, `args`); replaying it needs a function per kind. The
built-in kind `restore-file` puts a file's earlier content back (or removes a file the fault
created). Packages add kinds through the entry-point group `drills.rollbacks`: each entry point
names a callable `register(registry)` that calls `registry.register(kind, function)`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from pathlib import Path

from drills.core.errors import ConfigError
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry

__all__ = [
    "ENTRY_POINT_GROUP",
    "RESTORE_FILE",
    "default_registry",
    "restore_file",
    "restore_file_entry",
]

ENTRY_POINT_GROUP = "drills.rollbacks"
RESTORE_FILE = "restore-file"
Registrar = Callable[[RollbackRegistry], None]


def restore_file_entry(path: Path, previous: str | None) -> RollbackEntry:
    """The ledger entry that puts `path` back to `previous` (None: the file did not exist)."""
    args: dict[str, str | bool] = {"existed": previous is not None, "content": previous or ""}
    return RollbackEntry(RESTORE_FILE, str(path), args)


def restore_file(entry: RollbackEntry) -> Replayed:
    """Write the recorded content back, or delete the file if it did not exist before.

    Nothing is written when the file already holds that content (or is already absent).
    """
    path = Path(entry.target)
    if not entry.args.get("existed"):
        if not path.exists():
            return Replayed.ALREADY
        path.unlink(missing_ok=True)
        return Replayed.RESTORED
    content = str(entry.args.get("content", ""))
    if path.is_file() and path.read_text(encoding="utf-8", errors="replace") == content:
        return Replayed.ALREADY
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.rollback")
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)
    return Replayed.RESTORED


def default_registry(*, extra: Iterable[Registrar] = (), plugins: bool = True) -> RollbackRegistry:
    """Built-in kinds, then every `drills.rollbacks` entry point, then `extra` registrars."""
    registry = RollbackRegistry()
    registry.register(RESTORE_FILE, restore_file)
    registrars: list[Registrar] = []
    if plugins:
        registrars.extend(_entry_point_registrars())
    registrars.extend(extra)
    for registrar in registrars:
        registrar(registry)
    return registry


def _entry_point_registrars() -> list[Registrar]:
    found: list[Registrar] = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.append(point.load())
        except Exception as exc:
            raise ConfigError(
                f"rollback plugin '{point.name}' ({point.value}) failed to load: {exc}; "
                f"reinstall the package that provides it"
            ) from exc
    return found
