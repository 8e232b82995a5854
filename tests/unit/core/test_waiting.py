import pytest

from drills.core.clock import FakeClock
from drills.core.conditions import Condition, Observation
from drills.core.errors import WaitTimeout
from drills.core.waiting import wait_until


def _true_after(clock: FakeClock, at_s: float) -> Condition:
    return Condition("ready", lambda: Observation(clock.now() >= at_s, f"t={clock.now():g}"))


def test_fifteen_minutes_of_waiting_takes_no_real_time() -> None:
    clock = FakeClock(start_s=0.0)
    waited = wait_until(_true_after(clock, 900.0), clock=clock, timeout_s=1800, poll_s=1.0)
    assert waited.met
    assert waited.elapsed_s == 900.0
    assert waited.polls == 901


def test_stable_for_requires_an_unbroken_streak() -> None:
    clock = FakeClock(start_s=0.0)

    # healthy at 2-3 s, broken at 4 s, healthy again from 5 s on
    def flapping() -> bool:
        return clock.now() >= 5 or 2 <= clock.now() <= 3

    waited = wait_until(flapping, clock=clock, timeout_s=60, poll_s=1.0, stable_for_s=10)
    assert waited.met
    assert waited.first_held_s == 5.0
    assert waited.elapsed_s == 15.0


def test_timeout_raises_with_the_last_observation() -> None:
    clock = FakeClock(start_s=0.0)
    never = Condition("never", lambda: Observation(ok=False, detail="0/3 ready"))
    with pytest.raises(WaitTimeout, match="0/3 ready") as info:
        wait_until(never, clock=clock, timeout_s=30, poll_s=5, description="replicas")
    assert info.value.elapsed_s == 30.0
    assert "replicas not met within 30 s" in str(info.value)


def test_timeout_without_raising_reports_not_met() -> None:
    clock = FakeClock(start_s=0.0)
    waited = wait_until(lambda: False, clock=clock, timeout_s=3, poll_s=1, raise_on_timeout=False)
    assert not waited.met
    assert waited.elapsed_s is None
    assert waited.last.detail == "false"


def test_immediately_true_returns_without_sleeping() -> None:
    clock = FakeClock(start_s=0.0)
    waited = wait_until(lambda: True, clock=clock, timeout_s=5)
    assert (waited.met, waited.elapsed_s, clock.sleeps) == (True, 0.0, [])


def test_conditions_compose_with_and_or() -> None:
    yes = Condition("yes", lambda: True)
    no = Condition("no", lambda: Observation(ok=False, detail="down"))
    assert (yes & yes)().ok
    assert not (yes & no)().ok
    assert (yes & no)().detail == "true; down"
    assert (no & yes)().detail == "no: down"
    assert (no | yes)().ok
    assert not (no | no)().ok
    assert (yes & (lambda: True))().ok


@pytest.mark.parametrize("kwargs", [{"timeout_s": -1}, {"timeout_s": 1, "poll_s": 0}])
def test_invalid_bounds_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="poll_s"):
        wait_until(lambda: True, clock=FakeClock(), **kwargs)  # type: ignore[arg-type]
