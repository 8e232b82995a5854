"""Metrics of a run: the file the textfile collector reads and the push to a Pushgateway.

A ThreadingHTTPServer on 127.0.0.1 stands in for the Pushgateway and records every request.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import text_string_to_metric_families as text_004_families

from drills.core.journal import DrillRecord, RunJournal
from drills.core.objectives import ObjectiveKind, ObjectiveResult, Verdict
from drills.reporting.metrics import push_metrics
from tests.plugin.conftest import toy_cli_project


@dataclass(frozen=True)
class Pushed:
    method: str
    path: str
    body: str
    content_type: str


@dataclass
class Gateway:
    """What the stand-in Pushgateway received, and its URL."""

    url: str = ""
    requests: list[Pushed] = field(default_factory=list)

    def families(self, pushed: Pushed) -> dict[str, Metric]:
        found = text_004_families(pushed.body)
        return {family.name: family for family in found}


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    seen = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            size = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(size).decode("utf-8")
            kind = self.headers.get("Content-Type", "")
            seen.requests.append(Pushed(self.command, self.path, body, kind))
            self.send_response(200)
            self.end_headers()

        do_PUT = do_POST = _record

        def log_message(self, *args: object) -> None:
            pass  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    seen.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _record(drill_id: str, verdict: Verdict, rto_s: float | None) -> DrillRecord:
    return DrillRecord(
        id=drill_id,
        runbook="§3.2",
        service="shop",
        severity="P1",
        verdict=verdict,
        reason="",
        started_at="2026-06-01T10:00:00+00:00",
        ended_at="2026-06-01T10:01:00+00:00",
        duration_s=60.0,
        objectives=(ObjectiveResult(ObjectiveKind.RTO, "shop", 60.0, rto_s, verdict),),
    )


def test_push_puts_one_group_per_drill(gateway: Gateway) -> None:
    records = (_record("pod-kill", Verdict.PASS, 30.0), _record("pitr", Verdict.FAIL, None))
    journal = RunJournal("r1", "staging", "2026-06-01T10:00:00+00:00", records)
    pushed = push_metrics(journal, gateway.url)
    assert pushed == ["job=drills env=staging drill=pod-kill", "job=drills env=staging drill=pitr"]
    assert [(r.method, r.path) for r in gateway.requests] == [
        ("PUT", "/metrics/job/drills/drill/pod-kill/env/staging"),
        ("PUT", "/metrics/job/drills/drill/pitr/env/staging"),
    ]
    assert gateway.requests[0].content_type.startswith("text/plain; version=0.0.4")
    first = gateway.families(gateway.requests[0])
    [rto] = first["drills_rto_seconds"].samples
    assert rto.value == 30.0
    assert rto.labels["drill"] == "pod-kill"
    assert rto.labels["env"] == "staging"
    assert "drills_run_info" in first
    second = gateway.families(gateway.requests[1])
    assert "drills_rto_seconds" not in second  # unmeasured: absent, never 0
    assert second["drills_rto_target_seconds"].samples[0].value == 60.0


def test_push_to_a_closed_port_raises(closed_port_url: str) -> None:
    journal = RunJournal("r1", "staging", "", (_record("pod-kill", Verdict.PASS, 1.0),))
    with pytest.raises(OSError, match="refused"):
        push_metrics(journal, closed_port_url, timeout_s=5)


# -- `drills run` end to end on the toy drills (no sandbox) -------------------------------------


def drills(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "drills.cli", "--root", str(project), *args]
    return subprocess.run(
        command, cwd=project, capture_output=True, text=True, timeout=120, check=False
    )


def _families(path: Path) -> dict[str, Metric]:
    found = text_string_to_metric_families(path.read_text())  # type: ignore[no-untyped-call]
    return {family.name: family for family in found}


def test_run_writes_the_metrics_file_and_pushes(tmp_path: Path, gateway: Gateway) -> None:
    project = toy_cli_project(tmp_path / "project")
    prom = tmp_path / "textfile" / "drills.prom"
    prom.parent.mkdir()
    done = drills(
        project, "run", "--no-sandbox-up", "toy-pass", "toy-unknown",
        "--metrics-file", str(prom), "--pushgateway", gateway.url,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # toy-unknown did not pass
    assert f"metrics: {prom}" in done.stdout
    assert prom.read_text().endswith("# EOF\n")
    assert [p.name for p in prom.parent.iterdir()] == ["drills.prom"]
    families = _families(prom)
    verdicts = {
        (s.labels["drill"], s.labels["verdict"])
        for s in families["drills_drill_verdict"].samples
        if s.value == 1.0
    }
    assert verdicts == {("toy-pass", "PASS"), ("toy-unknown", "COULD_NOT_VERIFY")}
    rto = {s.labels["drill"]: s.value for s in families["drills_rto_seconds"].samples}
    assert rto == {"toy-pass": pytest.approx(30.0)}  # toy-unknown measured no RTO: no sample
    assert {s.labels["env"] for s in families["drills_rto_target_seconds"].samples} == {"sandbox"}
    paths = sorted(r.path for r in gateway.requests)
    assert paths == [
        "/metrics/job/drills/drill/toy-pass/env/sandbox",
        "/metrics/job/drills/drill/toy-unknown/env/sandbox",
    ]


def test_failed_push_is_reported_and_turns_a_pass_into_exit_2(
    tmp_path: Path, closed_port_url: str
) -> None:
    project = toy_cli_project(tmp_path)
    done = drills(project, "run", "--no-sandbox-up", "toy-pass", "--pushgateway", closed_port_url)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "PASS" in done.stdout  # the verdict is still shown
    assert f"metrics not pushed to the Pushgateway at {closed_port_url}" in done.stdout
    assert "the verdicts above stand" in done.stdout


def test_dry_run_exports_nothing(tmp_path: Path) -> None:
    project = toy_cli_project(tmp_path / "project")
    prom = tmp_path / "drills.prom"
    done = drills(
        project, "run", "--no-sandbox-up", "--dry-run", "toy-pass", "--metrics-file", str(prom)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dry run: no metrics written or pushed" in done.stdout
    assert not prom.exists()
