"""The process container runner with real processes: probes, back-off, OOM, graceful stop."""

from __future__ import annotations

import os
import socket
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from drills.sandbox.node.logs import parse_line
from drills.sandbox.node.runner import (
    OOM_EXIT_CODE,
    BackOff,
    ContainerRunner,
    ContainerSpec,
    Probe,
    parse_memory,
)
from tests.sandbox.aioloop import LoopThread, loop_thread
from tests.sandbox.pgkit import PgKit, local_postgres

pytestmark = pytest.mark.sandbox

APP = Path(__file__).resolve().parents[2] / "fixtures" / "shop" / "app.py"
FAST = BackOff(base_s=0.2, cap_s=0.8, reset_after_s=60)
CLOCK = SystemClock()


@pytest.fixture(scope="module")
def kit() -> Iterator[PgKit]:
    with local_postgres(max_connections=30) as started:
        yield started


@pytest.fixture
def aio() -> Iterator[LoopThread]:
    with loop_thread() as runner:
        yield runner


IP = "127.0.0.1"  # no pod network here: processes listen on loopback with an empty prefix


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((IP, 0))
        return int(sock.getsockname()[1])


def log_text(path: Path) -> str:
    lines = [parse_line(raw) for raw in path.read_bytes().splitlines()]
    return "".join(line.content.decode() + "\n" for line in lines if line is not None)


class Harness:
    """Builds runners on the loop thread and stops every one at the end."""

    def __init__(self, aio: LoopThread, tmp_path: Path) -> None:
        self.aio = aio
        self.tmp_path = tmp_path
        self.runners: list[ContainerRunner] = []
        self.events: list[tuple[str, str, str]] = []

    def start(self, spec: ContainerSpec, ip: str, **options: Any) -> ContainerRunner:
        async def build() -> ContainerRunner:
            runner = ContainerRunner(
                spec,
                pod_ip=ip,
                log_path=self.tmp_path / f"{spec.name}.log",
                on_event=lambda *event: self.events.append(event),
                **options,
            )
            runner.start()
            return runner

        runner = self.aio.run(build())
        self.runners.append(runner)
        return runner

    def stop(self, runner: ContainerRunner, grace_s: float | None = None) -> None:
        self.aio.run(runner.stop(grace_s))

    def close(self) -> None:
        for runner in self.runners:
            self.aio.run(runner.stop(1.0))


@pytest.fixture
def harness(aio: LoopThread, tmp_path: Path) -> Iterator[Harness]:
    made = Harness(aio, tmp_path)
    yield made
    made.close()


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def until(check: Any, description: str, timeout_s: float = 20) -> None:
    wait_until(check, clock=CLOCK, timeout_s=timeout_s, poll_s=0.05, description=description)


def test_shop_pod_becomes_ready_on_its_own_address_and_stops_gracefully(
    kit: PgKit, harness: Harness
) -> None:
    port = free_port()
    spec = ContainerSpec(
        name="shop",
        argv=(sys.executable, str(APP)),
        image="shop:1.0.0",
        env={"PORT": str(port), "DATABASE_URL": kit.primary.dsn()},
        memory_limit_bytes=parse_memory("512Mi"),
        readiness=Probe("/readyz", port, period_s=0.2, timeout_s=1),
        liveness=Probe("/healthz", port, period_s=0.5, timeout_s=1),
        termination_grace_s=5,
    )
    runner = harness.start(spec, IP, backoff=FAST)
    until(lambda: runner.ready, "shop container ready")
    status = runner.snapshot()
    assert status["ready"]
    assert status["started"]
    assert status["restartCount"] == 0
    assert set(status["state"]) == {"running"}
    assert status["containerID"] == f"drills-process://{runner.pid}"
    with urllib.request.urlopen(f"http://{IP}:{port}/version", timeout=5) as response:
        assert b'"image": "shop:1.0.0"' in response.read()
    pid = runner.pid
    assert pid is not None
    harness.stop(runner)
    assert not alive(pid)
    final = runner.snapshot()
    assert final["state"]["terminated"]["exitCode"] == 0
    assert not final["ready"]
    assert ("Normal", "Killing", "Stopping container shop") in harness.events
    assert [e[1] for e in harness.events[:3]] == ["Pulled", "Created", "Started"]
    assert f"listening on {IP}:{port}" in log_text(runner.log_path)


def test_crashing_container_backs_off_and_keeps_the_previous_log(harness: Harness) -> None:
    spec = ContainerSpec(
        name="crasher",
        argv=python("import os, sys; print('run', os.getpid()); sys.exit(3)"),
    )
    runner = harness.start(spec, IP, backoff=FAST)
    until(lambda: runner.restart_count >= 3, "three restarts")
    status = runner.snapshot()
    last = status["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (3, "Error")
    until(lambda: "waiting" in runner.snapshot()["state"], "back-off wait")
    waiting = runner.snapshot()["state"]["waiting"]
    assert waiting["reason"] == "CrashLoopBackOff"
    assert "restarting failed container=crasher" in waiting["message"]
    assert sum(1 for event in harness.events if event[1] == "BackOff") >= 3
    previous = log_text(runner.log.previous_path)
    assert previous.startswith("run ")
    assert previous.count("\n") == 1  # one run per file, not appended


def test_restart_policy_never_leaves_the_container_terminated(harness: Harness) -> None:
    spec = ContainerSpec(name="once", argv=python("print('done')"), restart_policy="Never")
    runner = harness.start(spec, IP, backoff=FAST)
    until(lambda: runner.done, "runner finished")
    status = runner.snapshot()
    assert status["state"]["terminated"]["reason"] == "Completed"
    assert status["restartCount"] == 0
    assert log_text(runner.log_path) == "done\n"


def test_exec_prefix_runs_before_the_program_with_the_same_pid(harness: Harness) -> None:
    spec = ContainerSpec(
        name="prefixed",
        argv=python("import os, time; print(os.environ['PREFIXED'], os.getpid()); time.sleep(60)"),
    )
    runner = harness.start(spec, IP, exec_prefix=["env", "PREFIXED=yes"])
    until(lambda: "yes" in log_text(runner.log_path), "prefixed output")
    assert log_text(runner.log_path) == f"yes {runner.pid}\n"


def test_memory_over_the_limit_is_oomkilled(harness: Harness) -> None:
    grow = (
        "import time\nheap = []\n"
        "while True:\n    heap.append(b'x' * 4 * 1024 * 1024)\n    time.sleep(0.01)\n"
    )
    spec = ContainerSpec(name="leaky", argv=python(grow), memory_limit_bytes=parse_memory("64Mi"))
    runner = harness.start(spec, IP, backoff=BackOff(base_s=30, cap_s=30))
    until(lambda: "terminated" in runner.snapshot()["lastState"], "OOM kill, restart scheduled")
    assert runner.restart_count == 0  # the kubelet counts a restart when the next run starts
    last = runner.snapshot()["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("OOMKilled", OOM_EXIT_CODE)
    assert any(event[1] == "OOMKilling" for event in harness.events)


def test_sigterm_ignored_means_sigkill_after_the_grace_period(
    harness: Harness, tmp_path: Path
) -> None:
    marker = tmp_path / "ignoring"
    stubborn = (
        "import signal, time, pathlib\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"pathlib.Path({str(marker)!r}).touch()\nwhile True:\n    time.sleep(1)\n"
    )
    runner = harness.start(ContainerSpec(name="stubborn", argv=python(stubborn)), IP)
    until(marker.exists, "SIGTERM handler installed")
    pid = runner.pid
    assert pid is not None
    started = CLOCK.now()
    harness.stop(runner, grace_s=0.5)
    assert CLOCK.now() - started >= 0.5
    assert not alive(pid)
    assert runner.snapshot()["state"]["terminated"]["exitCode"] == 128 + 9


def test_failing_liveness_restarts_the_container(harness: Harness) -> None:
    port = free_port()
    spec = ContainerSpec(
        name="web",
        argv=(sys.executable, "-m", "http.server", "--bind", IP, str(port)),
        readiness=Probe("/", port, period_s=0.1),
        liveness=Probe("/missing", port, period_s=0.1, failure_threshold=2),
        termination_grace_s=2,
    )
    runner = harness.start(spec, IP, backoff=FAST)
    until(lambda: runner.restart_count >= 1, "liveness restart")
    reasons = [event[1] for event in harness.events]
    assert "Unhealthy" in reasons
    assert "Killing" in reasons
    assert runner.snapshot()["lastState"]["terminated"]["exitCode"] == 128 + 15
