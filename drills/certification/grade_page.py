"""grade.html: one self-contained page per record, in the style of the run report.

The page shows what every record has (trainee, verdict, drill, variant, when), then what the
payload holds. A quiz: its questions with the answers given, the right ones and their sources. A
sign-off: `by` and `note`. A practical, in the field names of drills.core.grade: `summary` (text);
`criteria` (criterion, verdict, rule, reasons, evidence); `ack_s`, `timings` (checkpoint, step,
phase, required, budget_s, seen_s, evidence, expected), `phases` (phase, done_s, budget_s, how)
and `time_scale`; `timeline` (offset_s, source, actor, verb, what, succeeded), the fault, the
trainee's actions and the recovery. Times are seconds since the fault was injected. The whole
grade.json closes the page.
"""

from __future__ import annotations

import json

from jinja2 import Environment, PackageLoader, select_autoescape

from drills.certification.record import GradeRecord, RecordKind
from drills.core.durations import format_duration

__all__ = ["render_grade_page"]

_TITLES = {
    RecordKind.QUIZ: "Runbook quiz",
    RecordKind.PRACTICAL: "Practical {drill_id}",
    RecordKind.SIGNOFF: "Sign-off: {drill_id}",
}


def render_grade_page(record: GradeRecord) -> str:
    """The HTML of `record`'s grade page (every style inline, no file beside it needed)."""
    environment = Environment(
        loader=PackageLoader("drills.certification", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = environment.get_template("grade.html.j2")
    return template.render(
        r=record,
        p=record.payload,
        title=_TITLES[record.kind].format(drill_id=record.drill_id),
        recorded=record.recorded_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
        document=json.dumps(record.to_json(), indent=2, ensure_ascii=False),
        seconds=_seconds,
    )


def _seconds(value: object) -> str:
    """An offset in seconds as `+12.3s`; anything else as it is (empty for none)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        sign = "-" if value < 0 else "+"
        return f"{sign}{format_duration(abs(float(value)))}"
    return "" if value is None else str(value)
