"""Timeline plots of a drill: traffic, latency and replicas, with fault and recovery markers."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from drills.core.incident import Milestone
from drills.core.journal import DrillRecord, Sample

__all__ = ["PANELS", "Panel", "timeline_png"]


@dataclass(frozen=True)
class Panel:
    """One stacked axis: which series it draws and how to label them."""

    title: str
    unit: str
    series: tuple[str, ...]


# Series names are the ones the load and workload probes publish.
PANELS = (
    Panel("User traffic", "requests/s", ("requests ok/s", "requests failed/s")),
    Panel("Latency", "ms", ("p50 latency ms", "p95 latency ms")),
    Panel("Capacity", "replicas", ("replicas ready", "replicas desired")),
)
_COLOURS = {
    "requests ok/s": "#2b8a3e",
    "requests failed/s": "#c92a2a",
    "p50 latency ms": "#1c7ed6",
    "p95 latency ms": "#e67700",
    "replicas ready": "#5f3dc4",
    "replicas desired": "#868e96",
}


def _grouped(samples: Sequence[Sample]) -> dict[str, list[tuple[float, float]]]:
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for sample in samples:
        series[sample.series].append((sample.offset_s, sample.value))
    return {name: sorted(points) for name, points in series.items()}


def _markers(record: DrillRecord) -> list[tuple[float, str, str]]:
    faults = [f.offset_s for f in record.faults if not f.dry_run]
    marks = [(offset, f"fault +{offset:.0f}s", "#c92a2a") for offset in faults]
    for fig in record.figures:
        if fig.name != Milestone.TTR or fig.value is None or not faults:
            continue
        at = faults[0] + fig.value  # TTR counts from the start of injection
        marks.append((at, f"recovered +{at:.0f}s, TTR {fig.value:.0f}s", "#2b8a3e"))
    return marks


def timeline_png(record: DrillRecord, samples: Sequence[Sample]) -> bytes | None:
    """Render the drill's timeline as PNG bytes; None when there is nothing to plot."""
    series = _grouped(samples)
    panels = [p for p in PANELS if any(name in series for name in p.series)]
    extra = sorted(set(series) - {n for p in PANELS for n in p.series})
    panels += [Panel(name, "", (name,)) for name in extra]
    if not panels:
        return None
    # A bare Figure (no pyplot): no global state, no display needed, renders with Agg.
    figure = Figure(figsize=(10, 2.1 * len(panels)))
    figure.subplots(len(panels), 1, sharex=True, squeeze=False)
    markers = _markers(record)
    for index, (axis, panel) in enumerate(zip(figure.axes, panels, strict=True)):
        _draw_panel(axis, panel, series, markers, labelled=index == 0)
    figure.axes[-1].set_xlabel("seconds since the drill began")
    figure.suptitle(f"{record.id}: {record.verdict}", fontsize=11)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def _draw_panel(
    axis: Axes,
    panel: Panel,
    series: dict[str, list[tuple[float, float]]],
    markers: list[tuple[float, str, str]],
    *,
    labelled: bool,
) -> None:
    for name in panel.series:
        points = series.get(name)
        if points:
            xs, ys = zip(*points, strict=True)
            axis.plot(xs, ys, label=name, color=_COLOURS.get(name), linewidth=1.4)
    for offset, label, colour in markers:
        axis.axvline(offset, color=colour, linestyle="--", linewidth=1)
        if labelled:  # the top panel names the markers; the lines below line up with it
            _label_marker(axis, offset, label, colour)
    if panel.unit == "replicas":
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_ylabel(panel.unit)
    axis.set_title(panel.title, fontsize=9, loc="left")
    axis.grid(alpha=0.3)
    # Outside the axes, so it never hides a line or a marker label.
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _label_marker(axis: Axes, offset: float, label: str, colour: str) -> None:
    recovered = label.startswith("recovered")  # its label sits left of its line
    axis.annotate(
        f"{label} " if recovered else f" {label}",
        (offset, 1.0),
        xycoords=("data", "axes fraction"),
        fontsize=8,
        color=colour,
        ha="right" if recovered else "left",
        va="top",
        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "alpha": 0.7, "linewidth": 0},
    )
