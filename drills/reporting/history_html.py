"""reports/history.html: per environment and drill, RTO/RPO across runs, verdicts, operators."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from drills.core.durations import format_duration
from drills.core.trend import HistorySettings, RunFigures, Trend
from drills.reporting.trend_plots import trend_png

__all__ = ["HISTORY_PAGE_NAME", "render_history"]

HISTORY_PAGE_NAME = "history.html"


@dataclass(frozen=True)
class _DrillTrend:
    anchor: str
    drill: str
    runs: tuple[RunFigures, ...]
    trend: Trend | None
    png: str


@dataclass(frozen=True)
class _EnvironmentView:
    name: str
    settings: HistorySettings
    drills: tuple[_DrillTrend, ...]


def _figure(value: float | None, target: float | None) -> str:
    measured = "not measured" if value is None else format_duration(value)
    return measured if target is None else f"{measured} (target {format_duration(target)})"


def _environments(
    runs: Sequence[RunFigures],
    trends: Sequence[Trend],
    settings: Mapping[str, HistorySettings],
) -> list[_EnvironmentView]:
    judged = {(t.environment, t.drill): t for t in trends}

    def key(run: RunFigures) -> tuple[str, str]:
        return (run.environment, run.drill)

    ordered = sorted(runs, key=lambda r: (*key(r), r.started_at, r.run_id))
    views: list[_EnvironmentView] = []
    for environment, in_env in groupby(ordered, key=lambda r: r.environment):
        drills = tuple(
            _drill(environment, drill, tuple(group), judged.get((environment, drill)))
            for drill, group in groupby(in_env, key=lambda r: r.drill)
        )
        views.append(
            _EnvironmentView(environment, settings.get(environment, HistorySettings()), drills)
        )
    return views


def _drill(
    environment: str, drill: str, runs: tuple[RunFigures, ...], trend: Trend | None
) -> _DrillTrend:
    png = base64.b64encode(trend_png(runs)).decode("ascii")
    return _DrillTrend(f"{environment}--{drill}", drill, runs, trend, png)


def render_history(
    runs: Sequence[RunFigures],
    trends: Sequence[Trend],
    out: Path,
    *,
    settings: Mapping[str, HistorySettings],
    generated_at: str,
) -> Path:
    """Write one self-contained HTML page (plots embedded as PNG data URIs); return its path.

    One section per environment, one per drill inside it: the plot, the gate's finding and the
    table of runs (verdict, RTO, RPO, operator, ticket). Environments are never mixed.
    """
    environment = Environment(
        loader=PackageLoader("drills.reporting", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    template = environment.get_template("history.html.j2")
    regressions = sum(len(t.regressions) for t in trends)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        template.render(
            environments=_environments(runs, trends, settings),
            regressions=regressions,
            total_runs=len({r.run_id for r in runs}),
            generated_at=generated_at,
            figure=_figure,
        ),
        encoding="utf-8",
    )
    return out
