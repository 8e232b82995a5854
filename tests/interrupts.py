"""Child processes that take Ctrl-C as a terminal gives it, whoever started the test run.

A shell starts background jobs with SIGINT ignored, children inherit that, and Python then
installs no KeyboardInterrupt handler: a `make test &` would make every SIGINT a test sends to
a child a no-op, and a test of "interrupted with SIGINT" would pass or hang for the wrong reason.
Tests that interrupt a child start it with `preexec_fn=default_sigint`.
"""

from __future__ import annotations

import signal


def default_sigint() -> None:
    """In the child before exec: SIGINT back to its default action (Python then raises on it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
