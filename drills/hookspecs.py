"""pytest hook specifications of drills: the pytest side of `DrillEvents`.

The plugin forwards every drill event to these hooks, so a reporting module can be a plain
pytest plugin (any object with methods of these names, registered with
`config.pluginmanager.register`). Implementations must not raise; a failing one is logged and
marks the report incomplete, it never stops a drill or a rollback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from drills.core.events import DrillEvents, DrillStarted, StepStarted
    from drills.core.journal import DrillRecord, StepRecord

__all__ = ["DrillsHookSpecs"]

hookspec = pluggy.HookspecMarker("pytest")


class DrillsHookSpecs:
    """Hooks the drills plugin calls; added in `pytest_addoption` via `add_hookspecs`."""

    @hookspec
    def pytest_drills_session_started(
        self, events: DrillEvents, run_id: str, environment: str
    ) -> None:
        """The session's DrillEvents exist: add listeners for events the hooks do not forward."""

    @hookspec
    def pytest_drills_drill_started(self, started: DrillStarted) -> None:
        """A drill is about to run (its id, runbook section and service)."""

    @hookspec
    def pytest_drills_step_started(self, step: StepStarted) -> None:
        """A runbook step began."""

    @hookspec
    def pytest_drills_step_finished(self, step: StepRecord) -> None:
        """A runbook step ended, with its outcome and timing."""

    @hookspec
    def pytest_drills_drill_finished(self, record: DrillRecord) -> None:
        """A drill ended: its record holds the verdict, objectives, steps and rollbacks."""
