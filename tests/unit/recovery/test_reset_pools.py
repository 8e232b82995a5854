"""RUNBOOKS §3.5 step 3: the pools are reset (rollout restart) exactly when users still fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.clock import FakeClock
from drills.core.drill import DefaultWaits, Drill, DrillSpec
from drills.core.errors import DrillAborted
from drills.core.events import DrillEvents
from drills.core.safety import RollbackLedger
from drills.recovery.reset_pools import reset_pools_if_users_fail
from tests.fakes import FakeWorkload


def _drill(tmp_path: Path, clock: FakeClock) -> Drill:
    spec = DrillSpec("db-pool-exhaustion", "§3.5", "shop", waits=DefaultWaits(poll_s=1.0))
    return Drill(
        spec, clock=clock, events=DrillEvents(), ledger=RollbackLedger(tmp_path / "l.jsonl")
    )


def test_users_still_failing_get_the_rollout_restart(tmp_path: Path) -> None:
    clock, shop = FakeClock(), FakeWorkload()
    reset = reset_pools_if_users_fail(_drill(tmp_path, clock), shop, lambda: False, within_s=30)
    assert reset.restarted
    assert shop.restarts == ["restart-1"]  # the step really restarted the Deployment
    assert (reset.waited_s, reset.stamp) == (30.0, "restart-1")
    assert "kubectl rollout restart deployment/shop" in reset.summary("shop")


def test_users_back_on_their_own_get_no_restart(tmp_path: Path) -> None:
    clock, shop = FakeClock(), FakeWorkload()
    back_at = clock.now() + 4.0
    served = lambda: clock.now() >= back_at  # noqa: E731 - a condition is any callable
    reset = reset_pools_if_users_fail(_drill(tmp_path, clock), shop, served, within_s=30)
    assert not reset.restarted
    assert shop.restarts == []
    assert reset.waited_s == 4.0
    assert reset.summary("shop") == "users served again after 4.0 s without a pool reset"


def test_a_tripped_kill_switch_stops_the_wait_before_any_restart(tmp_path: Path) -> None:
    clock, shop = FakeClock(), FakeWorkload()
    drill = _drill(tmp_path, clock)
    drill.abort("users failing")
    with pytest.raises(DrillAborted):
        reset_pools_if_users_fail(drill, shop, lambda: False, within_s=30)
    assert shop.restarts == []
