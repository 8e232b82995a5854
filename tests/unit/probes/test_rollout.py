"""Rollout, crash-loop and restart-count probes of the crashloop-rollback drill, on fakes."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from drills.core.clock import FakeClock
from drills.probes.rollout import RestartWatch, crash_looping, rollout_complete
from drills.targets.ports.rollout import PodTemplate, RolloutStatus
from drills.targets.ports.workload import PodState
from tests.fakes import FakeWorkload

DONE = RolloutStatus(
    generation=4,
    observed_generation=4,
    replicas=3,
    updated=3,
    total=3,
    available=3,
    revision=4,
    image="shop:1.0.0",
)


@dataclass
class FakeRollout:
    """A Deployment's rollout state in memory; tests replace `status`."""

    status: RolloutStatus = DONE
    namespace: str = "default"
    name: str = "shop"

    def rollout_status(self) -> RolloutStatus:
        return self.status

    def previous_log(self, pod: str, *, tail_lines: int = 50) -> str:
        return f"{pod}: exited"

    def pod_template(self) -> PodTemplate:
        return PodTemplate.of({"spec": {"containers": [{"image": self.status.image}]}})


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"total": 4}, "an old pod is still running"),
        ({"updated": 1, "total": 4, "available": 3}, "new pods not all there"),
        ({"available": 2}, "an updated pod is not available"),
        ({"generation": 5}, "the controller has not seen the latest spec"),
        ({"paused": True}, "a paused rollout never finishes"),
    ],
)
def test_a_rollout_is_complete_only_when_kubectl_would_say_so(
    change: dict[str, int | bool], why: str
) -> None:
    assert DONE.complete
    assert not replace(DONE, **change).complete, why  # type: ignore[arg-type]


def test_rollout_complete_also_checks_the_template_image() -> None:
    rollout = FakeRollout()
    assert rollout_complete(rollout, "shop:1.0.0")().ok
    rollout.status = replace(DONE, image="shop:bad")
    seen = rollout_complete(rollout, "shop:1.0.0")()
    assert not seen.ok
    assert "the template runs shop:bad, not shop:1.0.0" in seen.detail
    assert rollout_complete(rollout)().ok  # without an image only the rollout counts


def test_rollout_detail_reads_like_rollout_status() -> None:
    stuck = replace(DONE, updated=1, total=4, generation=5, paused=True)
    assert stuck.describe() == (
        "1/3 updated, 4 total, 3 available (revision 4, shop:1.0.0), paused, "
        "generation 5 not yet observed"
    )


def test_crash_looping_names_the_waiting_pods_and_their_restarts() -> None:
    shop = FakeWorkload()
    assert not crash_looping(shop)().ok
    shop.pod_list.append(
        PodState("shop-new", "Running", ready=False, restarts=2, waiting_reason="CrashLoopBackOff")
    )
    seen = crash_looping(shop)()
    assert seen.ok
    assert seen.detail == "CrashLoopBackOff: shop-new (2 restarts)"


def test_a_terminating_crash_looping_pod_no_longer_counts() -> None:
    gone = PodState("x", "Running", ready=False, waiting_reason="CrashLoopBackOff", deleting=True)
    assert not crash_looping(FakeWorkload(pod_list=[gone]))().ok


def _crashing(restarts: int) -> PodState:
    return PodState(
        "shop-bad", "Running", ready=False, restarts=restarts, waiting_reason="CrashLoopBackOff"
    )


def test_pod_crash_looping_fires_above_five_restarts_of_a_new_pod() -> None:
    clock = FakeClock(start_s=0.0)
    shop = FakeWorkload()
    watch = RestartWatch(shop, clock=clock)
    watch.sample()
    clock.advance(5)
    shop.pod_list.append(_crashing(2))  # first seen already restarted: it started at 0
    assert not watch.alert().firing
    for restarts in (3, 4, 5):
        clock.advance(5)
        shop.pod_list[-1] = _crashing(restarts)
        assert not watch.alert().firing  # 5 is not above 5
    clock.advance(5)
    shop.pod_list[-1] = _crashing(6)
    reading = watch.alert()
    assert reading.firing
    assert (reading.pod, reading.restarts_in_window) == ("shop-bad", 6)
    assert watch.first_fired_s == 25.0
    clock.advance(5)
    shop.pod_list[-1] = _crashing(7)
    watch.alert()
    assert watch.first_fired_s == 25.0  # the first firing is kept


def test_restarts_before_the_window_do_not_count_for_an_old_pod() -> None:
    clock = FakeClock(start_s=0.0)
    shop = FakeWorkload(pod_list=[PodState("shop-old", "Running", ready=True, restarts=40)])
    watch = RestartWatch(shop, clock=clock)
    reading = watch.alert(restarts=5, window_s=600)
    assert (reading.firing, reading.restarts_in_window) == (False, 0)
    clock.advance(700)
    watch.sample()
    shop.pod_list = [replace(shop.pod_list[0], restarts=43)]
    clock.advance(10)
    reading = watch.alert(restarts=5, window_s=600)
    assert (reading.firing, reading.restarts_in_window) == (False, 3)
    assert "shop-old: 3 restarts in the window" in reading.detail


def test_restarts_flat_breaks_when_a_pod_restarts_and_counts_the_increase() -> None:
    clock = FakeClock(start_s=0.0)
    shop = FakeWorkload()
    watch = RestartWatch(shop, clock=clock)
    flat = watch.flat()
    assert flat().ok
    clock.advance(1)
    assert flat().ok
    shop.pod_list[0] = replace(shop.pod_list[0], restarts=1)
    clock.advance(1)
    seen = flat()
    assert not seen.ok
    assert seen.detail == "restarted since the last look: ['shop-0']"
    clock.advance(1)
    assert flat().ok  # no further restart since
    assert sum(watch.increase(since_s=0.0).values()) == 1
    assert sum(watch.increase(since_s=2.5).values()) == 0
