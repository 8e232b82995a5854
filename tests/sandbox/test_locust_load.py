"""Real Locust subprocesses against a local service whose outage window is known."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from drills.load.shapes import Spike, Steady
from drills.load.traffic import TrafficRecorder
from drills.targets.adapters.locust_load import LocustLoad, RemoteWorkers
from fixtures.outage_service import OutageService

pytestmark = pytest.mark.sandbox

LOCUSTFILE = Path(__file__).resolve().parents[2] / "fixtures" / "locustfiles" / "shop.py"
CLOCK = SystemClock()


def _wait(check: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    wait_until(check, clock=CLOCK, timeout_s=timeout_s, poll_s=0.05, description=what)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_user_side_outage_matches_the_true_window_within_100_ms(tmp_path: Path) -> None:
    recorder = TrafficRecorder()
    with OutageService(outage_at_s=3.0, outage_for_s=2.0) as service:
        load = LocustLoad(
            LOCUSTFILE, service.url, sink=recorder.add, log_dir=tmp_path, wait_s=(0.01, 0.02)
        )
        with load:
            load.start(Steady(users=8, spawn_rate=100.0))
            start_s, end_s = service.truth()
            _wait(lambda: CLOCK.now() > end_s + 1.0, "traffic after the outage")
            stopping_at_s = CLOCK.now()
        outage = recorder.outage()
    assert outage is not None
    assert abs(outage[0] - start_s) <= 0.1
    assert abs(outage[1] - end_s) <= 0.1
    assert abs((outage[1] - outage[0]) - (end_s - start_s)) <= 0.1
    during = recorder.window(start_s + 0.05, end_s - 0.05)
    assert during.count > 0
    assert during.error_ratio == 1.0
    after = recorder.window(end_s + 0.1, stopping_at_s)
    assert after.error_ratio == 0.0
    assert recorder.records()[-1].at_s >= stopping_at_s - 0.5  # the last second reached us
    acks = load.acknowledged()
    assert acks
    # No write is acknowledged inside the outage. A write that reached the service just before
    # the window opened may complete a moment after: the same 100 ms allowance as above.
    assert all(not (start_s + 0.1 < a.at_s < end_s) for a in acks)
    assert not any(_alive(pid) for pid in load.pids)


def test_spike_reaches_its_peak_users_and_rate_then_returns(tmp_path: Path) -> None:
    recorder = TrafficRecorder()
    shape = Spike(baseline_users=2, peak_users=8, spawn_rate=50.0, ramp_at_s=2.0, hold_s=3.0)
    with OutageService() as service:
        load = LocustLoad(
            LOCUSTFILE, service.url, sink=recorder.add, log_dir=tmp_path, wait_s=(0.05, 0.05)
        )
        with load:
            load.start(shape)
            _wait(lambda: load.users() == 2, "baseline users")
            base_from = CLOCK.now()
            _wait(lambda: load.users() == 8, "peak users")
            peak_from = CLOCK.now()
            base_to = peak_from - 0.5
            _wait(lambda: load.users() == 2, "back to baseline")
            peak_to = CLOCK.now() - 0.5
    baseline_rps = recorder.window(base_from, base_to).count / (base_to - base_from)
    peak_rps = recorder.window(peak_from + 0.5, peak_to).count / (peak_to - peak_from - 0.5)
    assert peak_rps >= 2.5 * baseline_rps  # four times the users, fixed pacing


def test_two_workers_stream_into_one_recorder(tmp_path: Path) -> None:
    recorder = TrafficRecorder()
    with OutageService() as service:
        load = LocustLoad(
            LOCUSTFILE,
            service.url,
            sink=recorder.add,
            log_dir=tmp_path,
            workers=2,
            wait_s=(0.05, 0.1),
        )
        with load:
            load.start(Steady(users=6, spawn_rate=50.0))
            _wait(lambda: load.users() == 6, "6 users across 2 workers", timeout_s=45.0)
            seen = len(recorder)
            _wait(lambda: len(recorder) > seen + 50, "more requests")
        server = load.stream_server
    assert server is not None
    assert server.connections == 2
    assert server.bad_lines == 0
    records = recorder.records()
    assert all(a.at_s <= b.at_s for a, b in itertools.pairwise(records))
    assert not any(_alive(pid) for pid in load.pids)


def test_keyboard_interrupt_leaves_no_locust_process(tmp_path: Path) -> None:
    recorder = TrafficRecorder()
    with OutageService() as service:
        load = LocustLoad(LOCUSTFILE, service.url, sink=recorder.add, log_dir=tmp_path)

        def interrupted() -> None:
            with load:
                load.start(Steady(users=2, spawn_rate=10.0))
                _wait(lambda: load.users() == 2, "users running")
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            interrupted()
    assert load.pids
    assert not any(_alive(pid) for pid in load.pids)
    assert len(recorder) > 0


def _reap(worker: subprocess.Popen[bytes]) -> None:
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        pytest.fail("the remote worker did not quit when the master stopped")


def test_a_worker_started_elsewhere_streams_wall_time_onto_the_harness_clock(
    tmp_path: Path,
) -> None:
    """The remote-worker path: the harness runs only the master; the test plays the other host."""
    recorder = TrafficRecorder()
    remote = RemoteWorkers(1, bind_host="127.0.0.1", advertise_host="127.0.0.1")
    with OutageService(outage_at_s=6.0, outage_for_s=2.0) as service:
        load = LocustLoad(
            LOCUSTFILE,
            service.url,
            sink=recorder.add,
            log_dir=tmp_path,
            remote=remote,
            wait_s=(0.01, 0.02),
        )
        with load:
            load.start(Steady(users=6, spawn_rate=100.0))
            env, command = load.remote_worker_command()
            assert env["DRILLS_STREAM_CLOCK"] == "wall"
            with (tmp_path / "remote-worker.log").open("wb") as log:
                worker = subprocess.Popen(
                    [sys.executable, "-m", *command],
                    cwd=LOCUSTFILE.parent,
                    env={**os.environ, **env},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                try:
                    start_s, end_s = service.truth()
                    _wait(lambda: CLOCK.now() > end_s + 1.0, "traffic after the outage", 40.0)
                finally:
                    load.stop()  # the master tells its workers to quit, wherever they run
                    _reap(worker)
        outage = recorder.outage()
    assert outage is not None, "no failed request streamed by the remote worker"
    assert abs(outage[0] - start_s) <= 0.1
    assert abs(outage[1] - end_s) <= 0.1
    assert load.acknowledged()


_HARNESS = """
import sys, time
from pathlib import Path
from drills.load.shapes import Steady
from drills.load.traffic import TrafficRecorder
from drills.targets.adapters.locust_load import LocustLoad
out, recorder = Path(sys.argv[3]), TrafficRecorder()
load = LocustLoad(Path(sys.argv[1]), sys.argv[2], sink=recorder.add, log_dir=out)
load.start(Steady(users=2, spawn_rate=10.0))
for _ in range(300):  # until users are really making requests, at most 30 s
    if len(recorder):
        break
    time.sleep(0.1)
(out / "pids").write_text(" ".join(map(str, load.pids)))
time.sleep(600)
"""


def test_locust_ends_when_the_harness_is_killed_outright(tmp_path: Path) -> None:
    """SIGKILL gives the harness no chance to stop Locust: the kernel must end it instead."""
    pids_file = tmp_path / "pids"
    with OutageService() as service:
        harness = subprocess.Popen(
            [sys.executable, "-c", _HARNESS, str(LOCUSTFILE), service.url, str(tmp_path)]
        )
        try:
            _wait(lambda: pids_file.exists() and pids_file.read_text() != "", "Locust started")
        finally:
            harness.kill()
            harness.wait()
        pids = [int(pid) for pid in pids_file.read_text().split()]
        _wait(lambda: not any(_running(pid) for pid in pids), "Locust gone", timeout_s=20.0)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit status may wait for a reaper)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status
