"""The failpoint seam the crash matrix kills the harness with: parsing, counting, the mark."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.events import DrillEvents, StepStarted
from drills.core.journal import FaultRecord
from drills.core.safety import RollbackEntry
from drills.pytest_plugin.failpoints import Failpoint, arm, parse_failpoint


def test_parses_each_moment_and_signal() -> None:
    assert parse_failpoint("step:3=SIGTERM") == Failpoint("step", 3, signal.SIGTERM)
    assert parse_failpoint("recorded:1=SIGKILL").signum is signal.SIGKILL
    assert parse_failpoint(" applied:2=SIGINT ").describe() == "applied:2=SIGINT"


@pytest.mark.parametrize(
    "value", ["step:0=SIGTERM", "step=SIGTERM", "later:1=SIGKILL", "step:1=SIGHUP", "step:1"]
)
def test_a_bad_value_says_the_variable_and_the_format(value: str) -> None:
    with pytest.raises(ConfigError, match=r"DRILLS_FAILPOINT=.*<moment>:<N>=<SIGNAL>"):
        parse_failpoint(value)


def test_unset_arms_nothing() -> None:
    events = DrillEvents()
    assert arm(events, {}) is None
    events.step_started.fire(StepStarted("a", 0.0))  # nothing happens


def _fault() -> FaultRecord:
    return FaultRecord("bad-release", "deployment/shop", "bad image", "t", 1.0, False)


def test_signals_itself_at_the_nth_occurrence_and_marks_it_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[int, signal.Signals]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))
    mark = tmp_path / "reached"
    events = DrillEvents()
    env = {"DRILLS_FAILPOINT": "applied:2=SIGKILL", "DRILLS_FAILPOINT_REACHED": str(mark)}
    arm(events, env)
    events.rollback_recorded.fire(RollbackEntry("bad-release", "deployment/shop"))
    events.fault_injected.fire(_fault())
    assert not sent
    assert not mark.exists()
    events.fault_injected.fire(_fault())
    assert [s for _, s in sent] == [signal.SIGKILL]
    assert mark.read_text().startswith("applied:2=SIGKILL\tfault bad-release on deployment/shop")
    events.fault_injected.fire(_fault())  # the third occurrence is not the point
    assert len(sent) == 1


def test_steps_are_counted_by_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[signal.Signals] = []
    monkeypatch.setattr(os, "kill", lambda _pid, sig: sent.append(sig))
    events = DrillEvents()
    arm(events, {"DRILLS_FAILPOINT": "step:2=SIGTERM"})
    events.step_started.fire(StepStarted("Detect", 0.1))
    assert not sent
    events.step_started.fire(StepStarted("Mitigate", 0.2))
    assert sent == [signal.SIGTERM]
