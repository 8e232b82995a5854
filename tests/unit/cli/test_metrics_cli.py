"""`--metrics-file` and `--pushgateway` in process: parsing, early refusals, exit codes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from rich.console import Console

from drills.cli import _request, build_parser, main
from drills.cli.metrics import MetricsTargets, publish_metrics
from drills.cli.run import RunRequest
from drills.core.journal import DrillRecord, RunJournal
from drills.core.objectives import ObjectiveKind, ObjectiveResult, Verdict

STARTED = "2026-06-01T10:00:00+00:00"


def parse(text: str) -> list[Metric]:
    """The families of OpenMetrics `text`, by prometheus-client's own parser."""
    return list(text_string_to_metric_families(text))  # type: ignore[no-untyped-call]


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, soft_wrap=True), out


def journal(verdict: Verdict = Verdict.PASS) -> RunJournal:
    record = DrillRecord(
        id="pod-kill",
        runbook="§3.2",
        service="shop",
        severity="P1",
        verdict=verdict,
        reason="",
        started_at=STARTED,
        ended_at=STARTED,
        duration_s=40.0,
        objectives=(ObjectiveResult(ObjectiveKind.RTO, "shop", 60.0, 35.0, verdict),),
    )
    return RunJournal("r1", "sandbox", STARTED, (record,))


def _parsed_request(*words: str) -> RunRequest:
    args = build_parser().parse_args(list(words))
    args.pytest_args = []  # main() adds what follows `--`
    return _request(args)


def test_run_options_reach_the_request(tmp_path: Path) -> None:
    path = tmp_path / "d.prom"
    request = _parsed_request("run", "--metrics-file", str(path), "--pushgateway", "http://pg:9091")
    assert request.metrics == MetricsTargets(path, "http://pg:9091")
    assert not _parsed_request("run").metrics


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--metrics-file", "{tmp}/missing/drills.prom"], "missing does not exist"),
        (["--metrics-file", "{tmp}"], "is a directory"),
        (["--pushgateway", "ftp://pg:9091"], "not an http(s) URL"),
        (["--pushgateway", "pushgateway"], "not an http(s) URL"),
    ],
)
@pytest.mark.parametrize("command", ["run", "report"])
def test_bad_targets_are_refused_before_anything_runs(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    words: list[str],
    message: str,
) -> None:
    argv = ["--root", str(tmp_path), command, *(w.format(tmp=tmp_path) for w in words)]
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()  # nothing ran


def test_publish_writes_the_file_and_keeps_the_code(tmp_path: Path) -> None:
    out, text = console()
    path = tmp_path / "drills.prom"
    assert publish_metrics(journal(), MetricsTargets(metrics_file=path), out, 0) == 0
    assert f"metrics: {path}" in text.getvalue()
    names = {f.name for f in parse(path.read_text())}
    assert "drills_rto_seconds" in names


@pytest.mark.parametrize(("run_code", "expected"), [(0, 2), (1, 1)])
def test_a_failed_export_never_hides_the_verdict(
    tmp_path: Path, run_code: int, expected: int
) -> None:
    out, text = console()
    gone = MetricsTargets(metrics_file=tmp_path / "removed-after-parsing" / "drills.prom")
    assert publish_metrics(journal(), gone, out, run_code) == expected
    said = text.getvalue()
    assert "metrics not written" in said
    assert "removed-after-parsing" in said
    assert "the verdicts above stand" in said


def test_report_writes_the_metrics_of_an_earlier_run(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (reports / "r1").mkdir(parents=True)
    (reports / "r1" / "journal.json").write_text(journal(Verdict.FAIL).to_json())
    path = tmp_path / "r1.prom"
    assert main(["--root", str(tmp_path), "report", "r1", "--metrics-file", str(path)]) == 0
    families = {f.name: f for f in parse(path.read_text())}
    verdicts = {s.labels["verdict"]: s.value for s in families["drills_drill_verdict"].samples}
    assert verdicts["FAIL"] == 1.0
    assert (reports / "r1" / "report.html").exists()


def test_report_of_a_missing_run_exports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "r1.prom"
    assert main(["--root", str(tmp_path), "report", "nope", "--metrics-file", str(path)]) == 2
    assert not path.exists()
