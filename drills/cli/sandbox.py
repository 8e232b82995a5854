"""`drills sandbox up|down|status`: thin calls into drills.sandbox.control (issue #4)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from rich.console import Console

__all__ = ["sandbox_command", "sandbox_control"]

NOT_BUILT = 2


def sandbox_control() -> ModuleType | None:
    """The sandbox control module, or None while it is not built yet."""
    try:
        return importlib.import_module("drills.sandbox.control")
    except ModuleNotFoundError as exc:
        if exc.name in ("drills.sandbox.control", "drills.sandbox"):
            return None
        raise


def sandbox_command(action: str, root: Path, console: Console) -> int:
    """Run `up`, `down` or `status` and report what it returned."""
    control = sandbox_control()
    if control is None:
        console.print(
            "[red]error:[/] the sandbox is not built yet (issue #4): drills.sandbox.control "
            "is missing. Use a profile for an existing cluster, e.g. --env staging."
        )
        return NOT_BUILT
    result = getattr(control, action)(root)
    if result is not None:
        console.print(result)
    return 0
