"""A run journal as OpenMetrics text: names, labels, values, omissions, the atomic file."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from drills.core.incident import Milestone
from drills.core.journal import DrillRecord, Figure, RunJournal
from drills.core.objectives import ObjectiveKind, ObjectiveResult, Verdict
from drills.core.provenance import RunProvenance
from drills.reporting.metrics import journal_registry, openmetrics_text, write_metrics_file

STARTED = "2026-06-01T10:00:00+00:00"
DRILL = {"drill": "pod-kill-under-load", "variant": "", "env": "staging", "service": "shop"}


def parse(text: str) -> list[Metric]:
    """The families of OpenMetrics `text`, by prometheus-client's own parser."""
    return list(text_string_to_metric_families(text))  # type: ignore[no-untyped-call]


def _record(**changes: object) -> DrillRecord:
    fields: dict[str, object] = {
        "id": "pod-kill-under-load",
        "runbook": "§3.2",
        "service": "shop",
        "severity": "P1",
        "verdict": Verdict.FAIL,
        "reason": "RTO breached",
        "started_at": STARTED,
        "ended_at": STARTED,
        "duration_s": 95.5,
        "objectives": (
            ObjectiveResult(ObjectiveKind.RTO, "shop", 60.0, 72.5, Verdict.FAIL),
            ObjectiveResult(ObjectiveKind.RPO, "database", 0.0, None, Verdict.COULD_NOT_VERIFY),
        ),
        "figures": (
            Figure(str(Milestone.TTD), 4.0, "s", target=300.0),
            Figure(str(Milestone.TTM), None, "s", target=900.0, detail="users still failing"),
            Figure(str(Milestone.TTR), 72.5, "s", target=60.0),
            Figure("user-side outage", 31.0, "s", target=60.0),
            Figure("p95 latency", 250.0, "ms", target=500.0),
            Figure("pods replaced", 2.0, "pods", no_target="context for the RTO"),
            Figure("writes lost", None, "writes", target=0.0),
        ),
        "nodeid": "scenarios/test_pod_kill_under_load.py::test_pod_kill_under_load",
    }
    fields.update(changes)
    return DrillRecord(**fields)  # type: ignore[arg-type]


def _journal(*records: DrillRecord) -> RunJournal:
    provenance = RunProvenance(operator="ann", approved_by="bob", ticket="CHG-1", host="ci-7")
    return RunJournal("20260601-100000-ab12", "staging", STARTED, records, provenance=provenance)


def _samples(text: bytes) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in parse(text.decode("utf-8")):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def _value(samples: list[tuple[dict[str, str], float]], **labels: str) -> float:
    matches = [v for found, v in samples if found == labels]
    assert len(matches) == 1, (labels, samples)
    return matches[0]


def test_text_parses_and_ends_with_eof() -> None:
    text = openmetrics_text(_journal(_record()))
    assert text.endswith(b"# EOF\n")
    families = {f.name: f for f in parse(text.decode())}
    assert families["drills_run"].type == "info"
    assert families["drills_rto_seconds"].type == "gauge"
    assert families["drills_rto_seconds"].unit == "seconds"
    assert all(name.startswith("drills_") for name in families)
    assert not any(name.endswith("_total") for name in families)  # gauges only


def test_run_info_and_timestamp() -> None:
    samples = _samples(openmetrics_text(_journal(_record())))
    [(info, one)] = samples["drills_run_info"]
    assert one == 1.0
    assert info["run_id"] == "20260601-100000-ab12"
    assert (info["env"], info["operator"], info["approved_by"]) == ("staging", "ann", "bob")
    assert (info["ticket"], info["host"]) == ("CHG-1", "ci-7")
    assert _value(samples["drills_run_timestamp_seconds"], env="staging") == 1780308000.0


def test_verdict_is_one_for_the_verdict_it_got_and_zero_for_the_others() -> None:
    samples = _samples(openmetrics_text(_journal(_record())))["drills_drill_verdict"]
    got = {labels["verdict"]: value for labels, value in samples}
    assert got == {"PASS": 0.0, "FAIL": 1.0, "COULD_NOT_VERIFY": 0.0, "ERROR": 0.0}
    assert {k: v for k, v in samples[0][0].items() if k != "verdict"} == DRILL


def test_objectives_beside_their_targets_with_the_objective_service() -> None:
    samples = _samples(openmetrics_text(_journal(_record())))
    assert _value(samples["drills_rto_seconds"], **DRILL) == 72.5
    assert _value(samples["drills_rto_target_seconds"], **DRILL) == 60.0
    database = {**DRILL, "service": "database"}
    assert _value(samples["drills_rpo_target_seconds"], **database) == 0.0
    assert _value(samples["drills_drill_duration_seconds"], **DRILL) == 95.5


def test_unmeasured_figures_are_omitted_not_zero() -> None:
    samples = _samples(openmetrics_text(_journal(_record())))
    assert "drills_rpo_seconds" not in samples  # RPO not measured: no sample at all
    assert "drills_time_to_mitigate_seconds" not in samples
    assert _value(samples["drills_time_to_mitigate_target_seconds"], **DRILL) == 900.0
    names = {labels["name"] for labels, _ in samples["drills_figure"]}
    assert "writes lost" not in names
    lost = {**DRILL, "name": "writes lost", "unit": "writes"}
    assert _value(samples["drills_figure_target"], **lost) == 0.0


def test_milestones_have_their_own_metrics() -> None:
    samples = _samples(openmetrics_text(_journal(_record())))
    assert _value(samples["drills_time_to_detect_seconds"], **DRILL) == 4.0
    assert _value(samples["drills_time_to_detect_target_seconds"], **DRILL) == 300.0
    assert _value(samples["drills_time_to_recover_seconds"], **DRILL) == 72.5
    assert _value(samples["drills_time_to_recover_target_seconds"], **DRILL) == 60.0
    names = {labels["name"] for labels, _ in samples["drills_figure"]}
    assert names == {"user-side outage", "p95 latency", "pods replaced"}


def test_figures_keep_name_and_unit_and_milliseconds_become_seconds() -> None:
    samples = _samples(openmetrics_text(_journal(_record())))
    p95 = {**DRILL, "name": "p95 latency", "unit": "s"}
    assert _value(samples["drills_figure"], **p95) == 0.25
    assert _value(samples["drills_figure_target"], **p95) == 0.5
    pods = {**DRILL, "name": "pods replaced", "unit": "pods"}
    assert _value(samples["drills_figure"], **pods) == 2.0
    targets = {labels["name"] for labels, _ in samples["drills_figure_target"]}
    assert "pods replaced" not in targets  # no target: none invented


def test_variant_comes_from_the_parameter_id_and_environments_stay_apart() -> None:
    half = _record(nodeid="scenarios/test_x.py::test_x[fraction-0.5]", verdict=Verdict.PASS)
    whole = _record(nodeid="scenarios/test_x.py::test_x[all]")
    samples = _samples(openmetrics_text(_journal(half, whole)))["drills_rto_seconds"]
    assert sorted(labels["variant"] for labels, _ in samples) == ["all", "fraction-0.5"]
    assert {labels["env"] for labels, _ in samples} == {"staging"}


def test_a_journal_without_drills_still_says_which_run() -> None:
    samples = _samples(openmetrics_text(_journal()))
    assert set(samples) == {"drills_run_info", "drills_run_timestamp_seconds"}


def test_unreadable_start_time_is_omitted() -> None:
    journal = RunJournal("r", "sandbox", "", (_record(),))
    assert "drills_run_timestamp_seconds" not in _samples(openmetrics_text(journal))


def test_registry_holds_only_the_journal() -> None:
    names = {m.name for m in journal_registry(_journal(_record())).collect()}
    assert not any(name.startswith(("process_", "python_")) for name in names)


def test_metrics_file_is_written_whole_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "drills.prom"
    path.write_text("old")
    assert write_metrics_file(_journal(_record()), path) == path
    assert path.read_bytes() == openmetrics_text(_journal(_record()))
    assert [p.name for p in tmp_path.iterdir()] == ["drills.prom"]  # no temporary file left


def test_metrics_file_in_a_missing_directory_raises_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="No such file"):
        write_metrics_file(_journal(_record()), tmp_path / "gone" / "drills.prom")
    assert list(tmp_path.iterdir()) == []
