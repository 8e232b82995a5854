"""`pitr --variant replica-promote`'s changes: rollback recorded first, kill refused when moot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from drills.cli.reinstate import register_rollbacks
from drills.core.errors import InjectionFailed
from drills.core.safety import RollbackRegistry
from drills.faults.replica import PRIMARY_KILLED, STANDBY_REPLICA, PrimaryKilled, StandbyReplica
from drills.targets.ports.data import ServerInstance

Status = Literal["absent", "stopped", "running"]
ARGS = {"postgres_root": "/srv/pg", "primary": "primary", "replica": "replica-x", "slot": "s1"}


@dataclass
class Server:
    """A server that stops when told (or ignores an immediate stop, `stubborn`)."""

    name: str = "primary"
    state: Status = "running"
    stubborn: bool = False
    stops: list[str] = field(default_factory=list)

    def status(self) -> Status:
        return self.state

    def stop(self, mode: str = "fast", *, timeout_s: float = 60.0) -> None:
        self.stops.append(mode)
        if not self.stubborn:
            self.state = "stopped"


def test_the_kill_is_an_immediate_stop_and_its_rollback_reinstates() -> None:
    primary, undone = Server(), []
    fault = PrimaryKilled(primary, undo=lambda: undone.append("reinstated"), args=ARGS)  # type: ignore[arg-type]
    entry = fault.rollback_entry()
    assert (entry.kind, entry.target, dict(entry.args)) == (
        PRIMARY_KILLED,
        "database/primary",
        ARGS,
    )
    fault.apply()
    assert (primary.stops, primary.state) == (["immediate"], "stopped")
    fault.rollback()
    assert undone == ["reinstated"]


@pytest.mark.parametrize(
    ("primary", "why"),
    [(Server(state="stopped"), "is not running"), (Server(stubborn=True), "still runs")],
)
def test_a_kill_that_cannot_take_effect_is_refused(primary: Server, why: str) -> None:
    fault = PrimaryKilled(primary, undo=lambda: None, args=ARGS)  # type: ignore[arg-type]
    with pytest.raises(InjectionFailed, match=why):
        fault.apply()


def test_the_standby_names_the_replica_and_its_slot_for_the_replay() -> None:
    made: list[str] = []
    removed: list[str] = []

    def create() -> ServerInstance:
        made.append("replica")
        return Server("replica-x")  # type: ignore[return-value]

    standby = StandbyReplica(
        "replica-x",
        "s1",
        create=create,
        remove=lambda: removed.append("gone"),
        args=ARGS,
    )
    entry = standby.rollback_entry()
    assert (entry.kind, entry.target, entry.args["slot"]) == (
        STANDBY_REPLICA,
        "database/replica-x",
        "s1",
    )
    assert "slot s1" in standby.describe()
    standby.apply()
    assert made == ["replica"]
    assert standby.server is not None
    standby.rollback()
    assert removed == ["gone"]


def test_drills_rollback_knows_both_kinds() -> None:
    registry = RollbackRegistry()
    register_rollbacks(registry)
    assert {PRIMARY_KILLED, STANDBY_REPLICA, "data-reinstate"} <= set(registry.kinds())
