"""RDS waits under a FakeClock: real status transitions and modelled durations, no network."""

from __future__ import annotations

from typing import Any

import pytest

from drills.core.clock import FakeClock
from drills.core.errors import WaitTimeout
from drills.targets.adapters.aws import ModelledDurations, RdsAdapter


class ScriptedRds:
    """Answers describe_db_instances from a script of statuses, one per call."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.calls: list[str] = []

    def restore_db_instance_from_db_snapshot(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("restore")
        return {}

    def describe_db_instances(self, **kwargs: Any) -> dict[str, Any]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"DBInstances": [{"DBInstanceStatus": status}]}


def test_wait_follows_real_status_transitions() -> None:
    clock = FakeClock()
    client = ScriptedRds(["creating"] * 30 + ["backing-up"] * 5 + ["available"])
    rds = RdsAdapter(client=client, clock=clock, poll_s=10.0)
    waited = rds.restore_from_snapshot("snap", "new")
    assert waited.elapsed_s == 350.0
    assert waited.history == ("creating", "backing-up", "available")
    assert waited.modelled_s == 0


def test_modelled_duration_holds_back_an_instant_backend() -> None:
    clock = FakeClock()
    rds = RdsAdapter(
        client=ScriptedRds(["available"]),
        clock=clock,
        poll_s=5.0,
        durations=ModelledDurations(restore_s=300.0),
    )
    waited = rds.restore_from_snapshot("snap", "new")
    assert waited.elapsed_s == 300.0
    assert "300 s MODELLED" in waited.describe()
    assert rds.durations.modelled


def test_wait_times_out_with_the_last_status() -> None:
    rds = RdsAdapter(client=ScriptedRds(["creating"]), clock=FakeClock(), timeout_s=60, poll_s=5)
    with pytest.raises(WaitTimeout, match="becomes available"):
        rds.restore_from_snapshot("snap", "new")
