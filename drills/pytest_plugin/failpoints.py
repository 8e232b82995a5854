"""Failpoints: the harness signals itself at a chosen moment, to prove what a kill leaves.

`DRILLS_FAILPOINT=<moment>=<SIGNAL>` arms one failpoint for the session; the crash matrix
(tests/e2e/crash_matrix.py, `make bench`) uses it to kill `drills run` at every step of every
drill. The moments, counted from 1 over the session:

- `step:N`: as the Nth runbook step starts;
- `recorded:N`: right after the Nth fault's rollback entry is on disk, before the fault acts;
- `applied:N`: right after the Nth fault acted (its `apply()` returned).

SIGNAL is SIGINT, SIGTERM or SIGKILL. On reaching the moment the plugin writes the moment (and
the step's name) to the file `DRILLS_FAILPOINT_REACHED` names, when set, then sends the signal to
its own process: the same path a Ctrl-C, an orchestrator's SIGTERM or the OOM killer takes. An
operator never sets these; an unknown value stops the run before anything acts.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from drills.core.errors import ConfigError
from drills.core.events import DrillEvents, StepStarted
from drills.core.journal import FaultRecord
from drills.core.safety import RollbackEntry

__all__ = ["ENV", "REACHED_ENV", "Failpoint", "arm", "parse_failpoint"]

ENV = "DRILLS_FAILPOINT"
REACHED_ENV = "DRILLS_FAILPOINT_REACHED"
MOMENTS = ("step", "recorded", "applied")
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}
_FORMAT = re.compile(r"^(?P<moment>[a-z]+):(?P<nth>[1-9][0-9]*)=(?P<signal>SIG[A-Z]+)$")


@dataclass(frozen=True)
class Failpoint:
    """Send `signum` to this process at the `nth` occurrence of `moment`."""

    moment: str
    nth: int
    signum: signal.Signals

    def describe(self) -> str:
        """`step:3=SIGTERM`."""
        return f"{self.moment}:{self.nth}={self.signum.name}"


def parse_failpoint(value: str) -> Failpoint:
    """Parse `<moment>:<N>=<SIGNAL>`; ConfigError naming the variable and the format otherwise."""
    found = _FORMAT.match(value.strip())
    if found is None or found["moment"] not in MOMENTS or found["signal"] not in SIGNALS:
        raise ConfigError(
            f"{ENV}={value!r} is not a failpoint; write <moment>:<N>=<SIGNAL> with moment one of "
            f"{', '.join(MOMENTS)} and SIGNAL one of {', '.join(SIGNALS)} "
            f"(e.g. {ENV}=recorded:1=SIGKILL), or unset it"
        )
    return Failpoint(found["moment"], int(found["nth"]), SIGNALS[found["signal"]])


class _Armed:
    """Counts the moments of one session and fires the failpoint at its occurrence."""

    def __init__(self, point: Failpoint, reached: Path | None) -> None:
        self.point, self.reached = point, reached
        self.seen = dict.fromkeys(MOMENTS, 0)

    def step(self, started: StepStarted) -> None:
        self._moment("step", f"step {started.name!r}")

    def recorded(self, entry: RollbackEntry) -> None:
        self._moment("recorded", f"rollback {entry.kind} {entry.entry_id} recorded")

    def applied(self, fault: FaultRecord) -> None:
        self._moment("applied", f"fault {fault.kind} on {fault.target} acted")

    def _moment(self, moment: str, what: str) -> None:
        self.seen[moment] += 1
        if moment != self.point.moment or self.seen[moment] != self.point.nth:
            return
        if self.reached is not None:
            with self.reached.open("w", encoding="utf-8") as out:
                out.write(f"{self.point.describe()}\t{what}\n")
                out.flush()
                os.fsync(out.fileno())
        os.kill(os.getpid(), self.point.signum)


def arm(events: DrillEvents, environ: Mapping[str, str]) -> Failpoint | None:
    """Arm the failpoint `DRILLS_FAILPOINT` names on `events`; None when it is unset."""
    value = environ.get(ENV, "")
    if not value:
        return None
    point = parse_failpoint(value)
    reached = environ.get(REACHED_ENV) or None
    armed = _Armed(point, Path(reached) if reached else None)
    events.step_started.add_listener(armed.step)
    events.rollback_recorded.add_listener(armed.recorded)
    events.fault_injected.add_listener(armed.applied)
    return point
