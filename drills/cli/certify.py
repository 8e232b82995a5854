"""`drills certify`: on-call certification (RUNBOOKS.md §4) from the command line.

`quiz`, `record` and `signoff` are here; the practical's actions (start, status, ack, page,
notice, postmortem, finish, abort) join them: `add_certify_parser` returns the subparsers object
to add their parsers to, and `ACTIONS` maps each action's name to its handler.

Exit codes: 0 done (quiz PASS; `record`: certified); 1 quiz FAIL or not certified; 2 usage error
or a file that cannot be read; 130 quiz abandoned with Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.text import Text

from drills.certification.errors import CertificationError
from drills.certification.record import (
    SHADOW_ID,
    GradeRecord,
    RecordKind,
    validate_trainee,
)
from drills.certification.records import GRADE_HTML, write_record
from drills.certification.settings import DEFAULT_SETTINGS, CertificationSettings
from drills.cli.certify_practical import PRACTICAL_ACTIONS, add_practical_parsers
from drills.cli.certify_quiz import add_quiz_arguments, quiz_action
from drills.cli.certify_record import record_action
from drills.cli.certify_support import (
    USAGE,
    CertifyContext,
    add_trainee_argument,
    reports_dir_options,
)
from drills.cli.paths import ProjectPaths
from drills.core.clock import DrillClock, SystemClock
from drills.core.objectives import Verdict

__all__ = ["ACTIONS", "CertifyAction", "add_certify_parser", "certify_command"]

CertifyAction = Callable[[argparse.Namespace, CertifyContext], int]
SubParsers = argparse._SubParsersAction  # argparse names no public type for it
_MAX_NAME = 80
_MAX_NOTE = 2000


def add_certify_parser(
    commands: SubParsers[argparse.ArgumentParser],
) -> SubParsers[argparse.ArgumentParser]:
    """Add `drills certify` and its actions; return its subparsers for more actions."""
    certify = commands.add_parser(
        "certify", help="on-call certification: quiz, record, sign-off (RUNBOOKS.md §4)"
    )
    actions = certify.add_subparsers(dest="certify_action", required=True, metavar="ACTION")
    shared = reports_dir_options()
    add_quiz_arguments(
        actions.add_parser(
            "quiz", parents=[shared], help="the runbook quiz, in the terminal or from a file"
        )
    )
    record = actions.add_parser(
        "record", parents=[shared], help="what a trainee is certified for, what is missing"
    )
    add_trainee_argument(record)
    signoff = actions.add_parser(
        "signoff", parents=[shared], help="sign off shadowing experienced responders"
    )
    add_trainee_argument(signoff)
    signoff.add_argument("--by", required=True, metavar="NAME", help="who signs it off")
    signoff.add_argument("--note", required=True, metavar="TEXT", help="what was shadowed")
    add_practical_parsers(actions)
    return actions


def certify_command(
    args: argparse.Namespace,
    paths: ProjectPaths,
    console: Console,
    *,
    stdin: TextIO | None = None,
    clock: DrillClock | None = None,
) -> int:
    """Run the certify action `args` names; a CertificationError becomes exit code 2."""
    context = CertifyContext(
        reports=getattr(args, "reports_dir", None) or paths.reports,
        console=console,
        clock=clock or SystemClock(),
        settings=certification_settings(paths),
        stdin=stdin or sys.stdin,
        paths=paths,
    )
    try:
        return ACTIONS[args.certify_action](args, context)
    except CertificationError as exc:
        console.print(Text.assemble(("error:", "red"), f" {exc}"), highlight=False)
        return USAGE


def certification_settings(paths: ProjectPaths) -> CertificationSettings:
    """The profile's `[certification]` settings (the defaults until the loader reads them)."""
    del paths  # the profile under paths.profiles will hold [certification]
    return DEFAULT_SETTINGS


def signoff_action(args: argparse.Namespace, context: CertifyContext) -> int:
    """Record that `--by` signs off the trainee's shadowing of experienced responders."""
    trainee = validate_trainee(args.trainee)
    by = _words(args.by, "--by", "the name of the responder shadowed", limit=_MAX_NAME)
    note = _words(args.note, "--note", "which incidents or drills were shadowed", limit=_MAX_NOTE)
    if by.casefold() == trainee.casefold():
        raise CertificationError(
            f"{trainee} cannot sign off their own shadowing: --by names the responder they shadowed"
        )
    record = GradeRecord(
        trainee=trainee,
        kind=RecordKind.SIGNOFF,
        drill_id=SHADOW_ID,
        verdict=Verdict.PASS,
        recorded_at=context.clock.wall(),
        payload={"by": by, "note": note},
    )
    run_dir = write_record(context.reports, record)
    context.console.print(
        f"signed off by {by}: {run_dir / GRADE_HTML}", markup=False, highlight=False
    )
    return 0


def _words(text: str, option: str, what: str, *, limit: int) -> str:
    cleaned = " ".join(text.split())
    if not cleaned or len(cleaned) > limit:
        raise CertificationError(f"{option} needs {what}, 1 to {limit} characters")
    return cleaned


ACTIONS: dict[str, CertifyAction] = {
    "quiz": quiz_action,
    "record": record_action,
    "signoff": signoff_action,
    **PRACTICAL_ACTIONS,
}
