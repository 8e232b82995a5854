"""`drills halt`: pull (or, with --clear, release) the halt lever of an environment.

Pulling writes the halt file (`drills.core.halt`) with who, where, when and why: every running
drill against the environment stops its fault, rolls back and ends ERROR within 5 s, and
`drills run` refuses to start until `drills halt --clear`. Exit 0 when the lever is in the
asked position, 2 when the profile cannot be read.
"""

from __future__ import annotations

import argparse
import getpass

from rich.console import Console

from drills.cli.paths import ProjectPaths
from drills.cli.run import load_selected_profile
from drills.core.clock import SystemClock
from drills.core.errors import ConfigError
from drills.core.halt import clear_halt, halt_path, new_notice, pull_halt, read_halt
from drills.core.runlock import RunLock, lock_path

__all__ = ["add_halt_parser", "halt_command"]

USAGE = 2


def add_halt_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`drills halt [--env NAME] [--reason TEXT] [--operator NAME] [--clear]`."""
    halt = commands.add_parser(
        "halt", help="stop every running drill of an environment (rollbacks run); --clear undoes"
    )
    halt.add_argument("--env", default="sandbox", help="environment profile (default sandbox)")
    halt.add_argument("--reason", default="no reason given", help="why, for the drill's verdict")
    halt.add_argument("--operator", metavar="NAME", help="who pulls it (default: OS user)")
    halt.add_argument(
        "--clear", action="store_true", help="remove the lever so drills may run again"
    )


def halt_command(args: argparse.Namespace, paths: ProjectPaths, console: Console) -> int:
    """Pull or clear the lever of `--env`; see the module docstring."""
    try:
        profile = load_selected_profile(paths, args.env, ())
    except ConfigError as exc:
        console.print(f"[red]error:[/] {exc}")
        return USAGE
    env = profile.name
    path = halt_path(paths.root, env, profile.halt_file)
    if args.clear:
        cleared = clear_halt(path)
        said = f"cleared ({cleared.describe()})" if cleared else "was not pulled"
        console.print(f"halt lever of '{env}' {said}; drills may run again", highlight=False)
        return 0
    existing = read_halt(path)
    if existing is not None:
        console.print(f"'{env}' is already {existing.describe()} ({path})", highlight=False)
        return 0
    operator = args.operator or getpass.getuser()
    notice = new_notice(operator, args.reason, env, SystemClock().wall())
    pull_halt(path, notice)
    console.print(f"{notice.describe()} ({path})", highlight=False)
    holder = RunLock(lock_path(paths.root, env), env).holder()
    running = f"{holder.describe()} stops within 5 s" if holder else "no run holds it here"
    console.print(
        f"'{env}': {running}; `drills run` refuses until `drills halt --clear --env {env}`",
        highlight=False,
    )
    return 0
