"""The per-run evidence beside journal.json: timeline.json, timeline PNGs, report.html, Allure.

`EvidenceWriter` is a listener: a pytest plugin object (it implements `pytest_drills_*` hooks)
that subscribes to the session's `DrillEvents`; scenario code never calls it. A reporter that
fails is logged at ERROR and noted in `report-incomplete.txt`; verdicts are never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from drills.core.events import DrillEvents
from drills.core.journal import DrillRecord, RunJournal
from drills.core.secrets import redact
from drills.reporting.allure_steps import AllureSteps, attach_png
from drills.reporting.html import render_report
from drills.reporting.plots import timeline_png
from drills.reporting.timeline import TimelineCollector

__all__ = [
    "INCOMPLETE_NAME",
    "REPORT_NAME",
    "TIMELINE_NAME",
    "EvidenceWriter",
    "timeline_png_name",
]

log = logging.getLogger("drills.reporting")

REPORT_NAME = "report.html"
TIMELINE_NAME = "timeline.json"
INCOMPLETE_NAME = "report-incomplete.txt"


def timeline_png_name(drill_id: str) -> str:
    """The file name of a drill's timeline plot in the report directory."""
    return f"{drill_id}-timeline.png"


class EvidenceWriter:
    """Collects timeline samples, writes per-drill PNGs and, at the end, report.html."""

    def __init__(self, report_dir: Path, *, allure: bool = False) -> None:
        self.report_dir = report_dir
        self.allure = allure
        self.timelines = TimelineCollector()
        self.problems: list[str] = []
        self.report_path: Path | None = None

    @property
    def timeline_path(self) -> Path:
        """Where the samples of every drill of the run are stored."""
        return self.report_dir / TIMELINE_NAME

    def pytest_drills_session_started(
        self, events: DrillEvents, run_id: str, environment: str
    ) -> None:
        """Hook implementation: subscribe the collectors to the session's events."""
        self.timelines.attach(events)
        if self.allure:
            AllureSteps().attach(events)

    def pytest_drills_drill_finished(self, record: DrillRecord) -> None:
        """Hook implementation: store the samples and plot the drill's timeline."""
        self._guard("timeline.json", self._write_timelines)
        self._guard(f"timeline plot of {record.id}", lambda: self._plot(record))

    def finish(self, journal: RunJournal) -> Path | None:
        """Render report.html from the journal; None (and a loud log) when rendering failed."""
        if not journal.scenarios:
            return None
        self._guard("timeline.json", self._write_timelines)
        out = self.report_dir / REPORT_NAME
        rendered = self._guard(
            "report.html",
            lambda: render_report(
                journal, self.timelines.by_drill, out, problems=tuple(self.problems)
            ),
        )
        self.report_path = out if rendered else None
        self._write_problems()
        return self.report_path

    def _write_timelines(self) -> None:
        self.report_dir.mkdir(parents=True, exist_ok=True)
        self.timelines.write(self.timeline_path)

    def _plot(self, record: DrillRecord) -> None:
        samples = self.timelines.by_drill.get(record.id, ())
        png = timeline_png(record, samples) if samples else None
        if png is None:
            return
        self.report_dir.mkdir(parents=True, exist_ok=True)
        (self.report_dir / timeline_png_name(record.id)).write_bytes(png)
        if self.allure:
            attach_png(f"{record.id} timeline", png)

    def _guard(self, what: str, action: Callable[[], object]) -> bool:
        try:
            action()
        except Exception as exc:
            log.error("drills: writing %s failed; the report is incomplete", what, exc_info=True)
            self.problems.append(f"{what}: {type(exc).__name__}: {exc}")
            return False
        return True

    def _write_problems(self) -> None:
        path = self.report_dir / INCOMPLETE_NAME
        if not self.problems:
            path.unlink(missing_ok=True)
            return
        lines = ["The evidence of this run is incomplete (verdicts in journal.json stand):"]
        lines += [f"- {problem}" for problem in self.problems]
        path.write_text(redact("\n".join(lines)) + "\n", encoding="utf-8")
