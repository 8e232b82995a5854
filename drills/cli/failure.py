"""How the CLI ends when something goes wrong: one message, or a traceback only for a bug.

Every error the harness raises on purpose is a `DrillError` (ConfigError, SafetyViolation,
CertificationError, ...) whose message names the problem and its fix: the user sees that
message alone and exit code 2 (a failed rollback: 1, as for a drill that did not pass). Any
other exception is a bug in drills: its traceback is printed, then a line saying so, and the
exit code is 70 (EX_SOFTWARE of sysexits.h). Ctrl-C ends with 130. Both terminal streams mask
the run's secrets (`drills.core.secrets`) while the command runs.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.text import Text

from drills.cli.output import redacting
from drills.core.errors import DrillError, RollbackFailed

__all__ = ["BUG_LINE", "EXIT_BUG", "EXIT_INTERRUPTED", "EXIT_USAGE", "guarded", "redacted_streams"]

EXIT_USAGE = 2
EXIT_ROLLBACK_FAILED = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
EXIT_BUG = 70  # EX_SOFTWARE: an internal software error
BUG_LINE = (
    "this is a bug in drills: please report it with the traceback above "
    "(the command, the profile name and the output; secrets are masked)"
)


def _message(exc: BaseException) -> Text:
    notes = [str(note) for note in getattr(exc, "__notes__", ())]
    return Text.assemble(("error: ", "bold red"), "\n".join([str(exc), *notes]))


def guarded(command: Callable[[], int], console: Console) -> int:
    """Run `command` and turn what it raises into a message and an exit code (see module doc)."""
    try:
        return command()
    except RollbackFailed as exc:
        console.print(_message(exc))
        return EXIT_ROLLBACK_FAILED
    except DrillError as exc:
        console.print(_message(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.print("interrupted: pending rollbacks, if any, are replayed by `drills rollback`")
        return EXIT_INTERRUPTED
    except Exception:  # the last resort: every other exception is a bug
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        console.print(Text(BUG_LINE, style="bold red"))
        return EXIT_BUG


@contextmanager
def redacted_streams() -> Iterator[None]:
    """Mask secrets in everything written to sys.stdout and sys.stderr (pytest's output too)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = redacting(sys.stdout), redacting(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
