"""The `traffic` fixture as a drill uses it: real Locust against a service with a known outage."""

from __future__ import annotations

import json
import shutil

import pytest

from fixtures.outage_service import OutageService
from tests.plugin.conftest import REPO

DRILL = '''
import json
import os

import pytest
from drills import Drill, InjectionFailed, RollbackEntry, SystemClock
from drills.core.waiting import wait_until
from drills.load.shapes import Steady
from drills.load.traffic import traffic_healthy

pytest_plugins = ["fixtures.load"]


class ScheduledOutage:
    """The service goes down at a time it published; injecting waits for that moment."""

    kind, target = "scheduled-outage", "outage-service"

    def describe(self) -> str:
        return "the service answers 503 for its scheduled window"

    def rollback_entry(self) -> RollbackEntry:
        return RollbackEntry(self.kind, self.target)

    def apply(self) -> None:
        with open(os.environ["OUTAGE_TRUTH"]) as handle:
            start_s = json.load(handle)["start_s"]
        clock = SystemClock()
        if clock.now() >= start_s:
            raise InjectionFailed("steady state came after the outage began; schedule it later")
        wait_until(lambda: clock.now() >= start_s, clock=clock, timeout_s=60, poll_s=0.01)

    def rollback(self) -> None:
        pass


@pytest.mark.drill(id="traffic-outage", runbook="RUNBOOKS.md §3.2", service="shop", severity="P1")
def test_traffic_outage(drill: Drill, traffic) -> None:
    healthy = traffic_healthy(
        traffic.recorder, max_error_ratio=0.01, max_p95_ms=1000.0, window_s=1.0, clock=drill.clock
    )
    traffic.start(Steady(users=4, spawn_rate=4))
    drill.expect_steady_state(healthy, timeout_s=30, stable_for_s=1)
    drill.inject(ScheduledOutage())
    with drill.step("wait for users to succeed again"):
        drill.await_recovery(healthy, timeout_s=30, stable_for_s=1)
    outage = traffic.recorder.outage(since_s=drill.fault_at_s)
    assert outage is not None, "the scheduled outage must be seen by users"
    drill.record_figure("user-side outage", outage[1] - outage[0], "s")
    assert traffic.load.users() == 4
    drill.assert_rto()
'''


@pytest.mark.sandbox
def test_traffic_runs_locust_workers_and_feeds_the_ledger(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = pytester.path / "fixtures" / "environments"
    profiles.mkdir(parents=True)
    shutil.copy(REPO / "fixtures" / "environments" / "sandbox.toml", profiles)
    pytester.makepyfile(test_traffic_drill=DRILL)
    monkeypatch.setenv("DRILLS_LOAD_WORKERS", "2")
    with OutageService(outage_at_s=10.0, outage_for_s=1.5) as service:
        monkeypatch.setenv("OUTAGE_TRUTH", str(service.truth_path))
        endpoints = pytester.path / ".drills" / "sandbox" / "endpoints.json"
        endpoints.parent.mkdir(parents=True)
        endpoints.write_text(json.dumps({"service_url": service.url, "namespace": "drills"}))
        result = pytester.runpytest("--drill-report-dir=out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    load_dir = pytester.path / "out" / "load" / "traffic-outage"
    logs = sorted(p.name for p in load_dir.glob("locust-*.log"))
    assert logs == ["locust-master.log", "locust-worker-0.log", "locust-worker-1.log"]
    acknowledged = (load_dir / "ledger.jsonl").read_text().splitlines()
    assert len(acknowledged) > 0, "every 201 POST /orders must reach the write ledger"
    [scenario] = json.loads((pytester.path / "out" / "journal.json").read_text())["scenarios"]
    assert scenario["verdict"] == "PASS"
    figures = {f["name"]: f["value"] for f in scenario["figures"]}
    assert figures["user-side outage"] == pytest.approx(1.5, abs=0.3)
    assert [r["outcome"] for r in scenario["rollbacks"]] == ["done"]
