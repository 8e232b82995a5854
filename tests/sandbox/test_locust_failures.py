"""Real Locust against services that hang, lose orders, or outlive their load generator.

Issue 12: a hung request must fail at the profile's read timeout (not vanish from the figures),
a 404 on an acknowledged order is a failed request naming the key, and a Locust that dies is
reported with its exit status and the tail of its log.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from drills.core.clock import SystemClock
from drills.core.errors import LoadGeneratorDied
from drills.core.waiting import wait_until
from drills.load.shapes import Steady
from drills.load.traffic import TrafficRecorder
from drills.targets.adapters.locust_load import LocustLoad
from fixtures.outage_service import OutageService

pytestmark = pytest.mark.sandbox

LOCUSTFILE = Path(__file__).resolve().parents[2] / "fixtures" / "locustfiles" / "shop.py"
CLOCK = SystemClock()
READ_TIMEOUT_S = 1.0


def _wait(check: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    wait_until(check, clock=CLOCK, timeout_s=timeout_s, poll_s=0.05, description=what)


def test_a_hung_request_fails_at_the_read_timeout(tmp_path: Path) -> None:
    recorder = TrafficRecorder()
    with OutageService(outage_at_s=3.0, outage_for_s=5.0, mode="hang") as service:
        load = LocustLoad(
            LOCUSTFILE,
            service.url,
            sink=recorder.add,
            log_dir=tmp_path,
            wait_s=(0.01, 0.02),
            timeouts_s=(0.5, READ_TIMEOUT_S),
        )
        with load:
            load.start(Steady(users=4, spawn_rate=100.0))
            start_s, end_s = service.truth()
            _wait(lambda: CLOCK.now() > end_s + 0.5, "traffic after the hang")
    # Inside the hang, each user's request ends at the read timeout as a failure, so failures
    # arrive throughout the window instead of all at its end.
    inside = recorder.window(start_s + READ_TIMEOUT_S + 0.2, end_s - 0.2)
    assert inside.count >= 4, "hung requests never reached the figures"
    assert inside.error_ratio == 1.0
    assert inside.p95_ms is not None
    assert inside.p95_ms < READ_TIMEOUT_S * 1000 + 500
    outage = recorder.outage()
    assert outage is not None
    assert outage[0] < start_s + READ_TIMEOUT_S + 0.5


def test_a_lost_order_read_back_is_a_failed_request_naming_its_key(tmp_path: Path) -> None:
    recorder = TrafficRecorder()
    with OutageService(outage_at_s=3.0, outage_for_s=0.0, mode="lose") as service:
        load = LocustLoad(
            LOCUSTFILE, service.url, sink=recorder.add, log_dir=tmp_path, wait_s=(0.01, 0.02)
        )
        with load:
            load.start(Steady(users=4, spawn_rate=100.0))
            lost_at_s, _ = service.truth()
            _wait(lambda: CLOCK.now() > lost_at_s + 3.0, "reads after the loss")
        acknowledged = {w.key: w.at_s for w in load.acknowledged()}
    lost = recorder.missing_reads()
    assert lost, "no read reported an acknowledged order missing"
    assert all(not r.ok and r.status == 404 for r in lost)
    assert all(acknowledged[r.missing_key] < lost_at_s + 0.1 for r in lost)
    assert len({r.missing_key for r in lost}) == len(lost)  # a user forgets a key seen lost
    before = recorder.window(lost_at_s - 2.5, lost_at_s - 0.1)
    assert before.count > 0
    assert before.failures == 0  # reads of present orders stay successes


def test_a_killed_locust_is_reported_with_its_exit_status_and_log(tmp_path: Path) -> None:
    recorder = TrafficRecorder()
    with OutageService() as service:
        load = LocustLoad(LOCUSTFILE, service.url, sink=recorder.add, log_dir=tmp_path)
        with load:
            load.start(Steady(users=2, spawn_rate=10.0))
            _wait(lambda: load.users() == 2, "users running")
            load.check_running()  # alive: nothing to say
            [pid] = load.pids
            os.kill(pid, signal.SIGKILL)
            _wait(lambda: _died(load), "Locust seen dead")
            with pytest.raises(LoadGeneratorDied) as caught:
                load.check_running()
    message = str(caught.value)
    assert f"Locust (standalone, pid {pid}) was killed by SIGKILL (status -9)" in message
    assert str(tmp_path / "locust-standalone.log") in message
    load.check_running()  # once stopped on purpose, silence is expected


def _died(load: LocustLoad) -> bool:
    try:
        load.check_running()
    except LoadGeneratorDied:
        return True
    return False
