"""A run's figures as Prometheus metrics: OpenMetrics text for the textfile collector, or a push.

Every metric is a gauge (a run's figures are snapshots, never counters) named `drills_*` in
base units. Labels: `env` (the profile), `drill` (its id), `variant` (the pytest parameter id
of a parametrised drill, else empty) and `service`; figures add `name` and `unit`.

- `drills_run_info{run_id,env,operator,approved_by,ticket,drills_version,git_commit,host}` 1
- `drills_run_timestamp_seconds{env}`: when the run began (Unix time)
- `drills_drill_verdict{drill,variant,env,service,verdict}`: 1 for the verdict the drill got,
  0 for each of the other three (PASS, FAIL, COULD_NOT_VERIFY, ERROR)
- `drills_drill_duration_seconds{drill,variant,env,service}`
- `drills_rto_seconds`, `drills_rto_target_seconds`, `drills_rpo_seconds`,
  `drills_rpo_target_seconds` (`service` is the objective's service)
- `drills_time_to_detect_seconds`, `drills_time_to_mitigate_seconds`,
  `drills_time_to_recover_seconds` (drills.core.incident), each with `..._target_seconds`
- `drills_figure{drill,variant,env,service,name,unit}` and `drills_figure_target{...}`: every
  other figure as recorded (milliseconds converted to seconds)

Honesty: a figure that was not measured (None) has no sample at all, never 0; its target is
still written, so a dashboard sees a target without a measurement.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, push_to_gateway
from prometheus_client.metrics_core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.registry import Collector

from drills.core.incident import Milestone
from drills.core.journal import DrillRecord, Figure, RunJournal
from drills.core.objectives import ObjectiveKind, Verdict

__all__ = [
    "PUSH_JOB",
    "journal_registry",
    "openmetrics_text",
    "push_metrics",
    "write_metrics_file",
]

PUSH_JOB = "drills"
_DRILL = ("drill", "variant", "env", "service")
_RUN_INFO = ("run_id", "env", "operator", "approved_by", "ticket", "drills_version")
_RUN_INFO_MORE = ("git_commit", "host")
_MILESTONES = {
    Milestone.TTD: "drills_time_to_detect",
    Milestone.TTM: "drills_time_to_mitigate",
    Milestone.TTR: "drills_time_to_recover",
}
_MILESTONE_METRIC = {str(m): base for m, base in _MILESTONES.items()}
_OBJECTIVES = {ObjectiveKind.RTO: "drills_rto", ObjectiveKind.RPO: "drills_rpo"}
_TO_BASE_UNIT = {"ms": ("s", 0.001)}  # Prometheus convention: base units


@dataclass
class _Gauge:
    """One gauge family; a repeated label set keeps its last value (no duplicate samples)."""

    name: str
    doc: str
    labels: tuple[str, ...]
    unit: str = ""
    values: dict[tuple[str, ...], float] = field(default_factory=dict)

    def set(self, labels: tuple[str, ...], value: float | None) -> None:
        if value is not None:  # unmeasured: no sample, never 0
            self.values[labels] = value

    def family(self) -> GaugeMetricFamily:
        name = f"{self.name}_{self.unit}" if self.unit else self.name
        gauge = GaugeMetricFamily(name, self.doc, labels=self.labels, unit=self.unit)
        for labels, value in self.values.items():
            gauge.add_metric(labels, value)
        return gauge


class _JournalCollector(Collector):
    """Yields the metrics of one journal each time the registry is collected."""

    def __init__(self, journal: RunJournal) -> None:
        self.journal = journal

    def collect(self) -> Iterable[Metric]:
        yield _run_info(self.journal)
        gauges = _gauges()
        started = _unix_seconds(self.journal.started_at)
        gauges["run_timestamp"].set((self.journal.environment,), started)
        for record in self.journal.scenarios:
            _add_drill(gauges, record, self.journal.environment)
        yield from (g.family() for g in gauges.values() if g.values)


def _gauges() -> dict[str, _Gauge]:
    s = "seconds"
    gauges = [
        _Gauge("drills_run_timestamp", "When the run began (Unix time)", ("env",), s),
        _Gauge(
            "drills_drill_verdict",
            "1 for the drill's verdict, 0 for the others",
            (*_DRILL, "verdict"),
        ),
        _Gauge("drills_drill_duration", "How long the drill ran", _DRILL, s),
    ]
    for kind, base in _OBJECTIVES.items():
        gauges.append(_Gauge(base, f"Measured {kind} (absent when not measured)", _DRILL, s))
        gauges.append(_Gauge(f"{base}_target", f"{kind} target of the service", _DRILL, s))
    for milestone, base in _MILESTONES.items():
        gauges.append(_Gauge(base, f"{milestone}, from the start of injection", _DRILL, s))
        gauges.append(_Gauge(f"{base}_target", f"Budget of {milestone}", _DRILL, s))
    figure = (*_DRILL, "name", "unit")
    gauges.append(_Gauge("drills_figure", "A measured figure, in its unit", figure))
    gauges.append(_Gauge("drills_figure_target", "The target of a figure", figure))
    return {g.name.removeprefix("drills_"): g for g in gauges}


def _add_drill(gauges: dict[str, _Gauge], record: DrillRecord, env: str) -> None:
    drill = (record.id, _variant(record.nodeid), env, record.service)
    for verdict in Verdict:
        gauges["drill_verdict"].set((*drill, str(verdict)), float(verdict == record.verdict))
    gauges["drill_duration"].set(drill, record.duration_s)
    for result in record.objectives:
        labels = (*drill[:3], result.service)
        base = _OBJECTIVES[result.name].removeprefix("drills_")
        gauges[base].set(labels, result.measured_s)
        gauges[f"{base}_target"].set(labels, result.target_s)
    for figure in record.figures:
        _add_figure(gauges, drill, figure)


def _add_figure(gauges: dict[str, _Gauge], drill: tuple[str, ...], figure: Figure) -> None:
    milestone = _MILESTONE_METRIC.get(figure.name)
    if milestone is not None:
        base = milestone.removeprefix("drills_")
        gauges[base].set(drill, figure.value)
        gauges[f"{base}_target"].set(drill, figure.target)
        return
    unit, factor = _TO_BASE_UNIT.get(figure.unit, (figure.unit, 1.0))
    labels = (*drill, figure.name, unit)
    gauges["figure"].set(labels, None if figure.value is None else figure.value * factor)
    gauges["figure_target"].set(labels, None if figure.target is None else figure.target * factor)


def _run_info(journal: RunJournal) -> InfoMetricFamily:
    info = InfoMetricFamily("drills_run", "Who ran the run, where, and with what", labels=())
    p = journal.provenance
    values = (journal.run_id, journal.environment, p.operator, p.approved_by, p.ticket)
    more = (p.drills_version, p.git_commit, p.host)
    info.add_metric((), dict(zip((*_RUN_INFO, *_RUN_INFO_MORE), (*values, *more), strict=True)))
    return info


def _variant(nodeid: str) -> str:
    """The parameter id of a parametrised test (`test_x[fraction-0.5]` -> `fraction-0.5`)."""
    if nodeid.endswith("]") and "[" in nodeid:
        return nodeid[nodeid.index("[") + 1 : -1]
    return ""


def _unix_seconds(iso: str) -> float | None:
    """An ISO-8601 time as Unix seconds (naive times are UTC); None when unreadable."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def journal_registry(journal: RunJournal) -> CollectorRegistry:
    """A fresh registry holding the metrics of `journal` (nothing of this process's own)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_JournalCollector(journal))
    return registry


def openmetrics_text(journal: RunJournal) -> bytes:
    """The metrics of `journal` in OpenMetrics 1.0 text, ending with `# EOF`."""
    text: bytes = generate_latest(journal_registry(journal))  # type: ignore[no-untyped-call]
    return text


def write_metrics_file(journal: RunJournal, path: Path) -> Path:
    """Write the OpenMetrics text to `path` atomically (a temporary file, then a rename).

    The node exporter's textfile collector reads only `*.prom` files and never sees a half
    file: the temporary file is a hidden `.tmp` beside `path`, fsync'd before the rename.
    Raises OSError when the directory cannot be written.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as out:
            out.write(openmetrics_text(journal))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def push_metrics(journal: RunJournal, gateway: str, *, timeout_s: float = 10.0) -> list[str]:
    """PUT each drill's metrics to the Pushgateway at `gateway`; return the group paths pushed.

    Grouping key: job `drills`, then `env` and `drill`, one group per drill id (run info and
    timestamp in each). A PUT replaces only its own group, so a run of some drills leaves the
    last results of the others in place, and one environment never overwrites another. Raises
    OSError (urllib's URLError/HTTPError) at the first push that fails; earlier groups stay.
    """
    pushed: list[str] = []
    for drill_id, records in _by_drill(journal.scenarios):
        part = replace(journal, scenarios=records)
        key = {"env": journal.environment, "drill": drill_id}
        push_to_gateway(
            gateway,
            job=PUSH_JOB,
            registry=journal_registry(part),
            grouping_key=key,
            timeout=timeout_s,
        )
        pushed.append(f"job={PUSH_JOB} env={journal.environment} drill={drill_id}")
    return pushed


def _by_drill(records: Iterable[DrillRecord]) -> Iterator[tuple[str, tuple[DrillRecord, ...]]]:
    groups: dict[str, list[DrillRecord]] = {}
    for record in records:
        groups.setdefault(record.id, []).append(record)
    for drill_id, found in groups.items():
        yield drill_id, tuple(found)
