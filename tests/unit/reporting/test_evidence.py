"""EvidenceWriter as a plain listener: timeline.json, PNGs, report.html, failures noted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import drills.reporting.evidence as evidence
from drills.core.events import DrillEvents, DrillStarted
from drills.core.journal import DrillRecord, RunJournal, Sample
from drills.core.objectives import Verdict
from drills.reporting.evidence import EvidenceWriter, timeline_png_name


def _record(drill_id: str) -> DrillRecord:
    return DrillRecord(drill_id, "§1", "shop", "P1", Verdict.PASS, "ok", "a", "b", 3.0)


def _run(writer: EvidenceWriter, events: DrillEvents, drill_id: str, *, samples: int) -> None:
    events.drill_started.fire(DrillStarted(drill_id, "§1", "shop", "a"))
    if samples:
        events.samples_recorded.fire(
            tuple(Sample("replicas ready", float(t), 3.0) for t in range(samples))
        )
    writer.pytest_drills_drill_finished(_record(drill_id))


def _session(tmp_path: Path) -> tuple[EvidenceWriter, DrillEvents]:
    writer, events = EvidenceWriter(tmp_path / "run"), DrillEvents()
    writer.pytest_drills_session_started(events=events, run_id="r1", environment="sandbox")
    return writer, events


def test_writes_timelines_plots_and_the_report(tmp_path: Path) -> None:
    writer, events = _session(tmp_path)
    _run(writer, events, "with-samples", samples=4)
    _run(writer, events, "without", samples=0)
    journal = RunJournal("r1", "sandbox", "a", (_record("with-samples"), _record("without")))
    report = writer.finish(journal)
    run = tmp_path / "run"
    assert report == run / "report.html"
    assert json.loads((run / "timeline.json").read_text())["with-samples"][0] == [
        "replicas ready",
        0.0,
        3.0,
    ]
    assert (run / timeline_png_name("with-samples")).exists()
    assert not (run / timeline_png_name("without")).exists()
    assert "This report is incomplete" not in report.read_text()
    assert not (run / "report-incomplete.txt").exists()


def test_a_failing_plot_is_noted_in_the_page_and_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> bytes:
        raise ValueError("no backend")

    monkeypatch.setattr(evidence, "timeline_png", broken)
    writer, events = _session(tmp_path)
    _run(writer, events, "plotted", samples=3)
    monkeypatch.undo()  # the report's own plot works again
    report = writer.finish(RunJournal("r1", "sandbox", "a", (_record("plotted"),)))
    assert report is not None
    assert "timeline plot of plotted: ValueError: no backend" in report.read_text()
    noted = (tmp_path / "run" / "report-incomplete.txt").read_text()
    assert "timeline plot of plotted: ValueError: no backend" in noted
    assert "report is incomplete" in caplog.text


def test_nothing_is_rendered_without_drills(tmp_path: Path) -> None:
    writer, _ = _session(tmp_path)
    assert writer.finish(RunJournal("r1", "sandbox", "a")) is None
    assert not (tmp_path / "run" / "report.html").exists()
