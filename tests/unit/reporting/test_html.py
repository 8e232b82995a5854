import base64
import re
from pathlib import Path

from drills.core.journal import (
    DrillRecord,
    FaultRecord,
    Figure,
    RollbackRecord,
    RunJournal,
    Sample,
    StepOutcome,
    StepRecord,
)
from drills.core.objectives import ObjectiveKind, ObjectiveResult, Verdict
from drills.core.provenance import RunProvenance
from drills.reporting.html import render_report
from drills.reporting.timeline import TimelineCollector, load_timelines


def _record(drill_id: str, verdict: Verdict, measured_s: float | None) -> DrillRecord:
    return DrillRecord(
        id=drill_id,
        runbook="RUNBOOKS.md §3.2",
        service="shop",
        severity="P1",
        verdict=verdict,
        reason="shop RTO: measured 20s vs target 15s -> FAIL",
        started_at="t0",
        ended_at="t1",
        duration_s=42.0,
        objectives=(ObjectiveResult(ObjectiveKind.RTO, "shop", 15.0, measured_s, verdict),),
        steps=(StepRecord("Kill half the pods", "a", "b", StepOutcome.OK, 5.0, 0.25),),
        faults=(FaultRecord("kill-pods", "default/deployment/shop", "kill 50%", "a", 5.0),),
        rollbacks=(RollbackRecord("e1", "kill-pods", "default/deployment/shop", "done"),),
        figures=(
            Figure("TTR (time to recover)", 20.0, "s", target=900.0, offset_s=25.0),
            Figure("error ratio", 0.031, "ratio", target=0.01),
            Figure("sessions idle", 4.0, "sessions", no_target="context for the leak's size"),
        ),
    )


def _samples() -> list[Sample]:
    points = []
    for t in range(40):
        failed = 8.0 if 5 <= t < 9 else 0.0
        points += [
            Sample("requests ok/s", t, 40.0 - failed),
            Sample("requests failed/s", t, failed),
            Sample("p95 latency ms", t, 30.0 + failed * 10),
            Sample("replicas ready", t, 3.0 if t < 5 or t > 8 else 2.0),
        ]
    return points


def test_report_is_self_contained_and_shows_every_verdict(tmp_path: Path) -> None:
    journal = RunJournal(
        "run-1",
        "sandbox",
        "2026-01-01T00:00:00+00:00",
        (
            _record("pod-kill-under-load", Verdict.FAIL, 20.0),
            _record("pitr", Verdict.COULD_NOT_VERIFY, None),
        ),
    )
    out = render_report(journal, {"pod-kill-under-load": _samples()}, tmp_path / "report.html")
    html = out.read_text()
    assert "pod-kill-under-load" in html
    assert "pitr" in html
    assert 'class="badge FAIL"' in html
    assert 'class="badge COULD_NOT_VERIFY"' in html
    assert "20.0s (target 15.0s)" in html
    assert "not measured (target 15.0s)" in html  # unmeasured RTO is shown as such, never as 0
    assert "Kill half the pods" in html
    assert "none: context for the leak&#39;s size" in html  # a figure says why it has no target
    # exactly one embedded PNG (the drill without samples has no plot), and no external fetches
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 1
    assert base64.b64decode(images[0]).startswith(b"\x89PNG")
    assert not re.search(r'(src|href)="https?://', html)


def test_timelines_round_trip_through_the_collector(tmp_path: Path) -> None:
    from drills.core.events import DrillEvents, DrillStarted

    events = DrillEvents()
    collector = TimelineCollector()
    collector.attach(events)
    events.drill_started.fire(DrillStarted("a", "§1", "shop", "t0"))
    events.samples_recorded.fire((Sample("replicas ready", 1.0, 3.0),))
    events.drill_started.fire(DrillStarted("b", "§2", "shop", "t1"))
    events.samples_recorded.fire((Sample("replicas ready", 2.0, 1.0),))
    path = collector.write(tmp_path / "timeline.json")
    loaded = load_timelines(path)
    assert loaded == {
        "a": [Sample("replicas ready", 1.0, 3.0)],
        "b": [Sample("replicas ready", 2.0, 1.0)],
    }
    assert load_timelines(tmp_path / "absent.json") == {}


def test_report_lists_settings_that_differ_from_upstream(tmp_path: Path) -> None:
    setting = {
        "component": "kube-apiserver",
        "flag": "--default-not-ready-toleration-seconds",
        "value": "10",
        "upstream_default": "300",
        "why": "evict within a drill",
    }
    cluster = {"kubernetes_version": "v1.37.2", "settings": [setting]}
    journal = RunJournal("run-1", "sandbox", "2026-01-01T00:00:00+00:00", cluster=cluster)
    html = render_report(journal, {}, tmp_path / "report.html").read_text()
    assert "Kubernetes <b>v1.37.2</b>" in html
    assert "--default-not-ready-toleration-seconds" in html
    assert ">300<" in html


def test_header_shows_who_ran_it_and_with_what(tmp_path: Path) -> None:
    provenance = RunProvenance(
        operator="ana",
        approved_by="ben",
        ticket="CHG-7",
        git_commit="abc123",
        git_dirty=True,
        kubernetes_version="v1.35.0",
        postgresql_version="16.2",
        locust_version="2.47.0",
        host="runner-1",
    )
    journal = RunJournal(
        "run-9", "sandbox", "t0", (_record("d1", Verdict.PASS, 3.0),), provenance=provenance
    )
    html = render_report(journal, {}, tmp_path / "report.html").read_text()
    for label, text in provenance.rows():
        assert f'<th>{label}</th><td class="num"><code>{text}</code></td>' in html
    assert "abc123 (dirty)" in html
