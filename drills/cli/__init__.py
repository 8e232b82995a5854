"""The `drills` command line: list, run, rollback, sandbox, report, history, evidence, certify.

Exit codes: 0 success (every selected drill PASSED); 1 a drill did not pass, a rollback failed,
or `history` found a regression; 2 usage or configuration error, or a command not built yet
(also: another run holds the environment, or its halt lever is pulled: `drills halt`)
(also: metrics that could not be written or pushed after a run whose drills all passed);
3 nothing to run; 70 a bug in drills (its traceback, then a line saying so); 130 interrupted.
Every expected error (a `DrillError`: ConfigError, SafetyViolation, ...) ends as one message
with its fix and code 2, never a traceback (`drills.cli.failure`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from drills.cli.allure_report import add_allure_option, with_allure
from drills.cli.certify import add_certify_parser, certify_command
from drills.cli.failure import guarded, redacted_streams
from drills.cli.halt import add_halt_parser, halt_command
from drills.cli.history import add_history_parser, history_command
from drills.cli.init import add_init_parser, init_command
from drills.cli.metrics import MetricsTargets, add_metrics_options, report_and_export
from drills.cli.output import terminal_console
from drills.cli.paths import ProjectPaths, find_root
from drills.cli.report_pdf import add_pdf_option, with_pdf
from drills.cli.rollback import discard, replay
from drills.cli.run import RunRequest, list_drills, run_drills
from drills.cli.sandbox import sandbox_command
from drills.cli.seal import add_evidence_parser, evidence_command

__all__ = ["build_parser", "main"]

# Commands announced but not built yet: name -> (what it will do, the issue that builds it).
_PLANNED: dict[str, tuple[str, str]] = {}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="drills",
        description="Chaos and disaster-recovery drills with RTO/RPO verdicts.",
        epilog="drills run ... -- ARGS passes ARGS to pytest as they are.",
    )
    parser.add_argument("--root", type=Path, help="project root (default: found from the cwd)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_selection(commands.add_parser("list", help="list every scenario and its objectives"))
    run = commands.add_parser("run", help="run drills; exit 0 only if every one PASSED")
    _add_selection(run)
    run.add_argument("ids", nargs="*", metavar="SCENARIO_ID", help="drill ids (default: all)")
    run.add_argument("--dry-run", action="store_true", help="print plans and rollbacks only")
    run.add_argument(
        "--service",
        metavar="NAME",
        help="drill the profile's service NAME (default: the first one with a deployment)",
    )
    run.add_argument(
        "--variant",
        metavar="NAME",
        help="run this variant of the selected drills (`drills list` shows them)",
    )
    run.add_argument("-m", dest="markexpr", help="pytest marker expression, e.g. gate")
    run.add_argument("--load-workers", type=int, help="Locust worker processes (load drills)")
    run.add_argument(
        "--load-remote-workers",
        type=int,
        metavar="N",
        help="also wait for N Locust workers started on other hosts (the command is printed)",
    )
    run.add_argument(
        "--load-in-cluster",
        type=int,
        metavar="N",
        help="run N Locust workers as a Job in the cluster (the master stays here)",
    )
    run.add_argument(
        "--load-advertise",
        metavar="HOST",
        help="address remote workers reach this machine at (default: its hostname)",
    )
    run.add_argument(
        "--no-sandbox-up",
        dest="sandbox_up",
        action="store_false",
        help="do not start the sandbox when the profile needs it and it is down",
    )
    _add_provenance(run)
    add_metrics_options(run)
    rollback = commands.add_parser("rollback", help="replay rollbacks a crashed run left pending")
    rollback.add_argument(
        "--ledger", type=Path, help="ledger file (default .drills/rollbacks.jsonl)"
    )
    rollback.add_argument("--dry-run", action="store_true", help="show what would be undone")
    rollback.add_argument(
        "--discard", metavar="ID", help="give a pending entry up instead (needs --reason)"
    )
    rollback.add_argument("--reason", default="", help="why the entry is discarded (recorded)")
    rollback.add_argument("--operator", metavar="NAME", help="who discards it (default: OS user)")
    sandbox = commands.add_parser("sandbox", help="the local sandbox: up, down or status")
    sandbox.add_argument("action", choices=("up", "down", "status"))
    report = commands.add_parser("report", help="re-render report.html of a run (default latest)")
    add_pdf_option(report)
    report.add_argument("run_id", nargs="?", metavar="RUN_ID", help="a directory under reports/")
    add_allure_option(report)
    add_metrics_options(report)
    add_history_parser(commands)
    add_init_parser(commands)
    add_evidence_parser(commands)
    add_certify_parser(commands)
    add_halt_parser(commands)
    for name, (text, issue) in _PLANNED.items():
        planned = commands.add_parser(name, help=f"{text} (not implemented yet: {issue})")
        planned.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _add_provenance(run: argparse.ArgumentParser) -> None:
    run.add_argument("--operator", metavar="NAME", help="who runs the drills (default: OS user)")
    run.add_argument("--approved-by", metavar="NAME", help="who approved this run")
    run.add_argument("--ticket", metavar="ID", help="change or incident ticket of this run")


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", default="sandbox", help="environment profile (default sandbox)")
    parser.add_argument(
        "--objective",
        action="append",
        default=[],
        metavar="SERVICE.rto=DURATION",
        help="override an objective (repeatable; also SERVICE.rpo=DURATION)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `drills` console script."""
    words = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in words:
        cut = words.index("--")
        words, passthrough = words[:cut], words[cut + 1 :]
    args = build_parser().parse_args(words)
    args.pytest_args = passthrough
    with redacted_streams():
        console = terminal_console()
        return guarded(lambda: _dispatch(args, _paths(args), console), console)


def _paths(args: argparse.Namespace) -> ProjectPaths:
    return ProjectPaths(args.root.resolve() if args.root else find_root(Path.cwd()))


def _dispatch(args: argparse.Namespace, paths: ProjectPaths, console: Console) -> int:
    command = args.command
    if command in _PLANNED:
        text, issue = _PLANNED[command]
        console.print(f"[red]error:[/] `drills {command}` ({text}) is not implemented yet: {issue}")
        return 2
    handler = _HANDLERS.get(command)
    if handler is not None:
        return handler(args, paths, console)
    request = _request(args)
    if command == "list":
        return list_drills(paths, request, console)
    return run_drills(paths, request, console)


_Handler = Callable[[argparse.Namespace, ProjectPaths, Console], int]
_HANDLERS: dict[str, _Handler] = {
    "rollback": lambda a, p, c: _rollback(a, p, c),
    "report": with_pdf(with_allure(report_and_export)),
    "history": lambda a, p, c: history_command(a, p, c),
    "init": lambda a, p, c: init_command(a, p, c),
    "evidence": lambda a, p, c: evidence_command(a, p, c),
    "sandbox": lambda a, p, c: sandbox_command(a.action, p.root, c),
    "certify": lambda a, p, c: certify_command(a, p, c),
    "halt": halt_command,
}


def _rollback(args: argparse.Namespace, paths: ProjectPaths, console: Console) -> int:
    ledger = args.ledger or paths.ledger
    if args.discard is not None:
        return discard(ledger, console, args.discard, reason=args.reason, operator=args.operator)
    return replay(ledger, console, dry_run=args.dry_run, root=paths.root)


def _request(args: argparse.Namespace) -> RunRequest:
    return RunRequest(
        ids=tuple(getattr(args, "ids", ()) or ()),
        env=args.env,
        objectives=tuple(args.objective),
        dry_run=bool(getattr(args, "dry_run", False)),
        variant=getattr(args, "variant", None),
        markexpr=getattr(args, "markexpr", None),
        load_workers=getattr(args, "load_workers", None),
        load_remote_workers=getattr(args, "load_remote_workers", None),
        load_in_cluster=getattr(args, "load_in_cluster", None),
        service=getattr(args, "service", None),
        load_advertise=getattr(args, "load_advertise", None),
        pytest_args=tuple(args.pytest_args),
        sandbox_up=bool(getattr(args, "sandbox_up", True)),
        operator=getattr(args, "operator", None),
        approved_by=getattr(args, "approved_by", None),
        ticket=getattr(args, "ticket", None),
        metrics=MetricsTargets.from_args(args),
    )
