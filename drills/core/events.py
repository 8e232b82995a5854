"""Drill events: one typed hook per moment; reporters listen, nobody calls a reporter directly.

A listener that raises is logged at WARNING and marks the report incomplete; it never aborts a
drill and never skips a rollback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from drills.core.journal import (
    DrillRecord,
    FaultRecord,
    Figure,
    RollbackRecord,
    Sample,
    StepRecord,
)
from drills.core.objectives import ObjectiveResult
from drills.core.safety import RollbackEntry

__all__ = ["DrillEvents", "DrillStarted", "EventHook", "StepStarted"]

log = logging.getLogger("drills.events")
Payload = TypeVar("Payload")


@dataclass(frozen=True)
class DrillStarted:
    """A drill is about to run."""

    id: str
    runbook: str
    service: str
    started_at: str


@dataclass(frozen=True)
class StepStarted:
    """A runbook step began (seconds since the drill began)."""

    name: str
    offset_s: float


class EventHook(Generic[Payload]):
    """Listeners for one kind of moment."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[[Payload], None]] = []
        self.failures = 0

    def add_listener(self, listener: Callable[[Payload], None]) -> Callable[[Payload], None]:
        """Add a listener; returns it so this works as a decorator."""
        self._listeners.append(listener)
        return listener

    def remove_listener(self, listener: Callable[[Payload], None]) -> None:
        """Remove a listener added earlier."""
        self._listeners.remove(listener)

    def fire(self, payload: Payload) -> None:
        """Call every listener; failures are logged loudly and counted, never raised."""
        for listener in list(self._listeners):
            try:
                listener(payload)
            except Exception:
                self.failures += 1
                log.warning("listener %r of %s failed", listener, self.name, exc_info=True)


@dataclass
class DrillEvents:
    """The catalogue of drill events, each with a frozen payload."""

    drill_started: EventHook[DrillStarted] = field(
        default_factory=lambda: EventHook("drill_started")
    )
    step_started: EventHook[StepStarted] = field(default_factory=lambda: EventHook("step_started"))
    step_finished: EventHook[StepRecord] = field(default_factory=lambda: EventHook("step_finished"))
    rollback_recorded: EventHook[RollbackEntry] = field(
        default_factory=lambda: EventHook("rollback_recorded")
    )  # a fault's rollback is on disk; the fault has not acted yet
    fault_injected: EventHook[FaultRecord] = field(
        default_factory=lambda: EventHook("fault_injected")
    )
    figure_recorded: EventHook[Figure] = field(default_factory=lambda: EventHook("figure_recorded"))
    samples_recorded: EventHook[tuple[Sample, ...]] = field(
        default_factory=lambda: EventHook("samples_recorded")
    )
    objective_evaluated: EventHook[ObjectiveResult] = field(
        default_factory=lambda: EventHook("objective_evaluated")
    )
    rollback_done: EventHook[RollbackRecord] = field(
        default_factory=lambda: EventHook("rollback_done")
    )
    drill_finished: EventHook[DrillRecord] = field(
        default_factory=lambda: EventHook("drill_finished")
    )

    def listener_failures(self) -> int:
        """How many listener calls failed so far (non-zero: the report is incomplete)."""
        hooks = (
            self.drill_started,
            self.step_started,
            self.step_finished,
            self.rollback_recorded,
            self.fault_injected,
            self.figure_recorded,
            self.samples_recorded,
            self.objective_evaluated,
            self.rollback_done,
            self.drill_finished,
        )
        return sum(hook.failures for hook in hooks)
