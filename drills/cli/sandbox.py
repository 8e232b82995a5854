"""`drills sandbox up|down|status`: thin calls into drills.sandbox.control."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from drills.core.errors import ConfigError, DrillError

__all__ = ["sandbox_command"]


def sandbox_command(action: str, root: Path, console: Console) -> int:
    """Run `up`, `down` or `status` and report what it returned; 1 when it failed.

    A ConfigError (e.g. PostgreSQL's user cannot reach the root) propagates: exit code 2.
    """
    from drills.sandbox import control  # half a second of imports: only when asked

    try:
        result = getattr(control, action)(root)
    except ConfigError:
        raise  # the CLI prints it with its fix and exits 2
    except DrillError as exc:
        console.print(f"[red]error:[/] sandbox {action}: {exc}")
        return 1
    console.print(result)
    return 0
