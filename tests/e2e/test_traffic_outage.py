"""Whole drills with real Locust traffic against a service that goes down (issue #6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.clock import SystemClock
from drills.core.drill import DefaultWaits, Drill, DrillSpec
from drills.core.errors import DrillAborted
from drills.core.events import DrillEvents
from drills.core.objectives import Objective, ObjectiveKind, Verdict
from drills.core.safety import RollbackEntry, RollbackLedger
from drills.core.waiting import wait_until
from drills.load.killswitch import KillSwitch
from drills.load.shapes import Steady
from drills.load.traffic import TrafficRecorder, traffic_healthy
from drills.targets.adapters.locust_load import LocustLoad
from fixtures.outage_service import OutageService

pytestmark = pytest.mark.slow

LOCUSTFILE = Path(__file__).resolve().parents[2] / "fixtures" / "locustfiles" / "shop.py"
CLOCK = SystemClock()
RTO_TARGET_S = 30.0


class ScheduledOutage:
    """The service's own schedule is the fault: `apply` returns when the outage begins."""

    kind = "scheduled-outage"
    target = "service/outage-fixture"

    def __init__(self, service: OutageService) -> None:
        self.service = service
        self.rolled_back = 0

    def describe(self) -> str:
        return "the service answers 503 for its scheduled window"

    def rollback_entry(self) -> RollbackEntry:
        return RollbackEntry(self.kind, self.target)

    def apply(self) -> None:
        start_s, _ = self.service.truth()
        wait_until(
            lambda: CLOCK.now() >= start_s,
            clock=CLOCK,
            timeout_s=30.0,
            poll_s=0.01,
            description="scheduled outage start",
        )

    def rollback(self) -> None:
        self.rolled_back += 1


def _drill(tmp_path: Path) -> Drill:
    spec = DrillSpec(
        id="traffic-outage",
        runbook="§load",
        service="outage-fixture",
        objectives=(Objective(ObjectiveKind.RTO, "outage-fixture", RTO_TARGET_S),),
        waits=DefaultWaits(steady_state_timeout_s=20, stability_window_s=1.0, poll_s=0.1),
    )
    ledger = RollbackLedger(tmp_path / "rollbacks.jsonl")
    return Drill(spec, clock=CLOCK, events=DrillEvents(), ledger=ledger)


def _load(service: OutageService, recorder: TrafficRecorder, tmp_path: Path) -> LocustLoad:
    return LocustLoad(
        LOCUSTFILE, service.url, sink=recorder.add, log_dir=tmp_path / "locust", wait_s=(0.02, 0.05)
    )


@pytest.mark.parametrize("mode", ["503", "refuse"])
def test_drill_reports_user_side_outage_error_ratio_and_p95(tmp_path: Path, mode: str) -> None:
    """503 answers (a proxy before dead pods) or refused connections (a dead process)."""
    recorder = TrafficRecorder()
    healthy = traffic_healthy(
        recorder, max_error_ratio=0.01, max_p95_ms=500.0, window_s=1.0, clock=CLOCK
    )
    with OutageService(outage_at_s=4.0, outage_for_s=2.0, mode=mode) as service:
        fault = ScheduledOutage(service)
        drill = _drill(tmp_path)
        with drill:
            load = _load(service, recorder, tmp_path)
            drill.defer("stop locust", load.stop)
            load.start(Steady(users=6, spawn_rate=50.0))
            drill.expect_steady_state(healthy)
            with drill.step("outage"):
                drill.inject(fault)
            with drill.step("recover"):
                drill.await_recovery(healthy, timeout_s=20.0)
            load.stop()
            outage = recorder.outage(since_s=drill.started_s)
            assert outage is not None
            during = recorder.window(drill.started_s, CLOCK.now())
            drill.record_figure("user-side outage", outage[1] - outage[0], "s", target=RTO_TARGET_S)
            drill.record_figure("error ratio (drill)", during.error_ratio, "ratio", target=0.5)
            drill.record_figure("p95 latency (drill)", during.p95_ms, "ms", target=500.0)
            drill.assert_rto()
        true_start, true_end = service.truth()
    record = drill.record
    assert record is not None
    assert record.verdict is Verdict.PASS, record.reason
    figures = {f.name: f for f in record.figures}
    measured = figures["user-side outage"].value
    assert measured is not None
    assert abs(measured - (true_end - true_start)) <= 0.1
    assert figures["error ratio (drill)"].target == 0.5
    assert figures["p95 latency (drill)"].value is not None
    assert fault.rolled_back == 1
    failed = {r.status for r in recorder.records() if not r.ok}
    assert failed == ({0} if mode == "refuse" else {503})  # 0: no HTTP answer at all


def test_kill_switch_aborts_the_drill_and_rollbacks_run(tmp_path: Path) -> None:
    recorder = TrafficRecorder()
    healthy = traffic_healthy(
        recorder, max_error_ratio=0.01, max_p95_ms=500.0, window_s=1.0, clock=CLOCK
    )
    with OutageService(outage_at_s=3.0, outage_for_s=120.0) as service:
        fault = ScheduledOutage(service)
        drill = _drill(tmp_path)
        switch = KillSwitch(
            recorder,
            clock=CLOCK,
            error_ratio=0.5,
            sustained_s=1.0,
            window_s=1.0,
            poll_s=0.1,
            on_trip=drill.abort,
        )

        def run() -> None:
            with drill:
                load = _load(service, recorder, tmp_path)
                drill.defer("stop locust", load.stop)
                drill.defer("stop kill switch", switch.stop)
                load.start(Steady(users=6, spawn_rate=50.0))
                drill.expect_steady_state(healthy)
                switch.start()
                with drill.step("outage"):
                    drill.inject(fault)
                with drill.step("recover"):
                    drill.await_recovery(healthy, timeout_s=60.0)

        with pytest.raises(DrillAborted, match="kill switch"):
            run()
        _, true_end = service.truth()
    record = drill.record
    assert record is not None
    assert record.verdict is Verdict.ERROR
    assert "above the abort limit" in record.reason
    assert fault.rolled_back == 1
    assert drill.fault_at_s is not None
    assert CLOCK.now() - drill.fault_at_s < 10.0  # aborted long before the outage ended
    assert CLOCK.now() < true_end
