"""Evidence of a run beside journal.json: timeline.json, timeline PNGs, report.html, Allure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.plugin.conftest import ToyProject, toy_cli_project
from tests.plugin.test_cli import drills

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def sampled(toy: ToyProject) -> ToyProject:
    toy.add("sampled_drills.py", "test_sampled.py")
    return toy


def test_session_writes_timeline_plots_and_report(sampled: ToyProject) -> None:
    result = sampled.pytester.runpytest("--drill-report-dir=out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    out = sampled.path / "out"
    timelines = json.loads((out / "timeline.json").read_text())
    assert set(timelines) == {"sampled-pass", "sampled-fail"}
    series = {point[0] for point in timelines["sampled-pass"]}
    assert series == {"requests ok/s", "requests failed/s", "p95 latency ms", "replicas ready"}
    assert (out / "sampled-pass-timeline.png").read_bytes().startswith(PNG_MAGIC)
    assert (out / "sampled-fail-timeline.png").read_bytes().startswith(PNG_MAGIC)
    assert not (out / "no-samples-timeline.png").exists()
    html = (out / "report.html").read_text()
    for drill_id in ("sampled-pass", "sampled-fail", "no-samples"):
        assert f'id="{drill_id}"' in html
    assert html.count("data:image/png;base64,") == 2
    assert "Confirm the error budget" in html
    assert not (out / "report-incomplete.txt").exists()
    result.stdout.fnmatch_lines(["report: */out/report.html"])


BROKEN_RENDERER = """

import drills.reporting.evidence as _evidence

_original = _evidence.render_report


def _broken(*args, **kwargs):
    raise RuntimeError("template exploded")


_evidence.render_report = _broken


def pytest_unconfigure(config):
    _evidence.render_report = _original
"""


def test_a_report_that_cannot_render_keeps_the_verdicts(sampled: ToyProject) -> None:
    sampled.pytester.makeconftest((sampled.path / "conftest.py").read_text() + BROKEN_RENDERER)
    result = sampled.pytester.runpytest_inprocess("--drill-report-dir=out")
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = sampled.path / "out"
    assert sampled.verdicts() == {
        "sampled-pass": "PASS",
        "sampled-fail": "FAIL",
        "no-samples": "PASS",
    }
    assert not (out / "report.html").exists()
    assert "template exploded" in (out / "report-incomplete.txt").read_text()
    result.stdout.fnmatch_lines(["REPORT INCOMPLETE: report.html: RuntimeError: template exploded"])


def _allure_results(directory: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in directory.glob("*-result.json"):
        data = json.loads(path.read_text())
        found[data["name"]] = data
    return found


def test_allure_gets_one_step_per_runbook_step(sampled: ToyProject) -> None:
    result = sampled.pytester.runpytest("--drill-report-dir=out", "--alluredir=allure")
    result.assert_outcomes(passed=2, failed=1)
    results = _allure_results(sampled.path / "allure")
    failing = results["test_sampled_breaches"]
    steps = [(s["name"], s["status"]) for s in failing["steps"]]
    assert steps == [
        ("Observe the baseline", "passed"),
        ("Break the flag", "passed"),
        ("Wait for recovery", "passed"),
        ("Confirm the error budget", "failed"),
    ]
    names = {a["name"] for a in failing["attachments"]}
    assert {"drill record", "sampled-fail timeline"} <= names
    passing = results["test_sampled_passes"]
    assert [s["status"] for s in passing["steps"]] == ["passed"] * 3
    assert "error ratio" in {a["name"] for a in passing["attachments"]}
    timeline = next(a for a in failing["attachments"] if a["name"] == "sampled-fail timeline")
    assert timeline["type"] == "image/png"
    assert (sampled.path / "allure" / timeline["source"]).read_bytes().startswith(PNG_MAGIC)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose scenarios are the toy drills and the sampled ones."""
    toy_cli_project(tmp_path, ("sampled_drills.py", "test_sampled.py"))
    return tmp_path


def test_drills_run_then_report_and_history(project: Path) -> None:
    done = drills(project, "run", "sampled-pass", "toy-pass")
    assert done.returncode == 0, done.stdout + done.stderr
    latest = project / "reports" / "latest"
    assert (latest / "timeline.json").exists()
    assert (latest / "sampled-pass-timeline.png").read_bytes().startswith(PNG_MAGIC)
    assert f"report: {latest.resolve() / 'report.html'}" in done.stdout
    (latest / "report.html").unlink()
    again = drills(project, "report")
    assert again.returncode == 0, again.stdout + again.stderr
    assert (latest / "report.html").read_text().count("data:image/png;base64,") == 1
    history = drills(project, "history")
    assert history.returncode == 0, history.stdout + history.stderr
    assert "sampled-pass" in history.stdout
    assert "no regression" in history.stdout
