"""The self-contained report.html: verdicts, objectives vs measured, steps, timeline per drill."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from drills.core.durations import format_duration
from drills.core.journal import DrillRecord, RunJournal, Sample, StepOutcome
from drills.core.objectives import ObjectiveKind, ObjectiveResult, Verdict, combine
from drills.core.secrets import redact
from drills.reporting.plots import timeline_png

__all__ = ["render_report"]


_OUTCOME_MARK = {
    StepOutcome.OK: "✓",
    StepOutcome.FAILED: "✗",
    StepOutcome.ERROR: "!",
    StepOutcome.SKIPPED: "-",
}


@dataclass(frozen=True)
class _ObjectiveRow:
    name: str
    service: str
    target: str
    measured: str
    verdict: str
    detail: str


@dataclass(frozen=True)
class _DrillView:
    record: DrillRecord
    objectives: tuple[_ObjectiveRow, ...]
    rto: str
    rpo: str
    duration: str
    timeline: str


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "not measured"
    if unit == "s":
        return format_duration(value)
    return f"{value:.4g} {unit}".strip()  # four significant digits are plenty to read


def _pair(objectives: Sequence[ObjectiveResult], kind: ObjectiveKind) -> str:
    found = [o for o in objectives if o.name is kind]
    if not found:
        return "not evaluated"
    return " · ".join(
        f"{_value(o.measured_s, 's')} (target {format_duration(o.target_s)})" for o in found
    )


@dataclass(frozen=True)
class _RunView:
    verdict: Verdict
    passed: int
    total: int
    started: str


def _run_view(journal: RunJournal) -> _RunView:
    verdicts = [r.verdict for r in journal.scenarios]
    started = journal.started_at[:19].replace("T", " ")
    return _RunView(
        verdict=combine(verdicts),
        passed=sum(v is Verdict.PASS for v in verdicts),
        total=len(verdicts),
        started=f"{started} UTC" if journal.started_at.endswith("+00:00") else started,
    )


def _view(record: DrillRecord, samples: Sequence[Sample]) -> _DrillView:
    png = timeline_png(record, samples)
    rows = tuple(
        _ObjectiveRow(
            str(o.name),
            o.service,
            format_duration(o.target_s),
            format_duration(o.measured_s),
            str(o.verdict),
            o.detail,
        )
        for o in record.objectives
    )
    return _DrillView(
        record=record,
        objectives=rows,
        rto=_pair(record.objectives, ObjectiveKind.RTO),
        rpo=_pair(record.objectives, ObjectiveKind.RPO),
        duration=f"took {format_duration(record.duration_s)}",
        timeline=base64.b64encode(png).decode("ascii") if png else "",
    )


# Embedded plots: redaction must not touch them (a secret's spelling may occur in base64 by chance).
_DATA_URI = re.compile(r"(data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+)")


def _redacted(page: str) -> str:
    """The page with every secret masked outside its embedded images."""
    parts = _DATA_URI.split(page)
    return "".join(part if index % 2 else redact(part) for index, part in enumerate(parts))


def render_report(
    journal: RunJournal,
    timelines: Mapping[str, Sequence[Sample]],
    out: Path,
    *,
    problems: Sequence[str] = (),
) -> Path:
    """Write a single HTML file (plots embedded as data URIs) and return its path.

    `problems` are reporter failures of the run; the page shows them in a banner.
    """
    environment = Environment(
        loader=PackageLoader("drills.reporting", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    template = environment.get_template("report.html.j2")
    drills = [_view(r, timelines.get(r.id, ())) for r in journal.scenarios]
    out.write_text(
        _redacted(
            template.render(
                journal=journal,
                run=_run_view(journal),
                drills=drills,
                fmt=format_duration,
                value=_value,
                outcome_mark=_OUTCOME_MARK,
                problems=problems,
            )
        ),
        encoding="utf-8",
    )
    return out
