"""The trend of one drill in one environment: RTO and RPO per run against their targets."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from drills.core.objectives import ObjectiveKind, Verdict
from drills.core.trend import RunFigures

__all__ = ["VERDICT_COLOURS", "trend_png"]

# The colours of report.html's verdict badges.
VERDICT_COLOURS = {
    Verdict.PASS: "#2b8a3e",
    Verdict.FAIL: "#c92a2a",
    Verdict.COULD_NOT_VERIFY: "#e67700",
    Verdict.ERROR: "#495057",
}
_LINE = "#1c7ed6"
ZOOM_RATIO = 4.0  # a target this many times the highest measurement is named, not drawn
_TARGET = "#862e9c"


def trend_png(runs: Sequence[RunFigures]) -> bytes:
    """PNG bytes: one panel each for RTO and RPO, runs oldest first on the x axis.

    Measured values are joined by a line with a marker coloured by the run's verdict; the target
    is a dashed step line; a run that did not measure a figure shows an x (its verdict's colour)
    on the axis.
    """
    figure = Figure(figsize=(10, 5.2))
    FigureCanvasAgg(figure)  # Agg: no display, no pyplot global state
    figure.subplots(2, 1, sharex=True)
    for axis, kind in zip(figure.axes, ObjectiveKind, strict=True):
        _panel(axis, kind, runs)
    labels = [r.run_id for r in runs]
    figure.axes[-1].set_xticks(range(len(runs)), labels, rotation=30, ha="right", fontsize=8)
    figure.axes[0].legend(
        handles=_legend(), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False
    )
    first = runs[0] if runs else None
    if first is not None:
        figure.suptitle(f"{first.drill} in {first.environment}: RTO and RPO per run", fontsize=11)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _panel(axis: Axes, kind: ObjectiveKind, runs: Sequence[RunFigures]) -> None:
    points = [(x, r.measured(kind), r.verdict) for x, r in enumerate(runs)]
    measured = [(x, value, verdict) for x, value, verdict in points if value is not None]
    if measured:  # the line joins measured runs; an unmeasured one does not break the trend
        xs, values, verdicts = zip(*measured, strict=True)
        axis.plot(xs, values, color=_LINE, linewidth=1.4, zorder=2)
        axis.scatter(xs, values, c=[VERDICT_COLOURS[v] for v in verdicts], s=36, zorder=3)
    for x, value, verdict in points:
        if value is None:  # x in data, y in axes fraction: on the axis, whatever the scale
            axis.plot(
                x, 0.03, "x", color=VERDICT_COLOURS[verdict], transform=axis.get_xaxis_transform()
            )
        for x, value in zip(xs, values, strict=True):  # the figure itself, not only its height
            axis.annotate(
                f"{value:.1f}s",
                (x, value),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=7,
            )
    targets = [_nan(r.target(kind)) for r in runs]
    if not all(math.isnan(t) for t in targets):
        axis.step(range(len(runs)), targets, where="mid", color=_TARGET, linestyle="--")
    axis.margins(x=0.05, y=0.12)
    axis.set_ylim(bottom=0)
    _zoom_on_the_trend(axis, [v for _, v, _ in measured], targets)
    axis.set_ylabel(f"{kind} (s)")
    axis.set_title(f"{kind}: measured vs target", fontsize=9, loc="left")
    axis.grid(alpha=0.3)


def _zoom_on_the_trend(axis: Axes, values: Sequence[float], targets: Sequence[float]) -> None:
    """Keep the measured trend readable when the target is far above it (11 s against 15 min).

    The axis then ends a little above the highest measurement and names the target instead of
    drawing it as a line at the top that flattens every run to the floor.
    """
    known = [t for t in targets if not math.isnan(t)]
    top = max(values, default=0.0)
    if not known or top <= 0 or min(known) <= ZOOM_RATIO * top:
        return
    axis.set_ylim(0, top * 1.6)
    axis.text(
        0.99,
        0.95,
        f"target {max(known):g} s: above the scale",
        transform=axis.transAxes,
        ha="right",
        va="top",
        fontsize=8,
        color=_TARGET,
    )


def _legend() -> list[Line2D]:
    handles = [
        Line2D([], [], color=_LINE, label="measured"),
        Line2D([], [], color=_TARGET, linestyle="--", label="target"),
        Line2D([], [], color="#868e96", marker="x", linestyle="", label="not measured"),
    ]
    handles += [
        Line2D([], [], color=colour, marker="o", linestyle="", label=str(verdict))
        for verdict, colour in VERDICT_COLOURS.items()
    ]
    return handles


def _nan(value: float | None) -> float:
    return math.nan if value is None else value
