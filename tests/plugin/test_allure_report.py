"""Allure as users open it: runbook steps with the drill's timing, the timeline, the single file.

The first test reads allure-pytest's raw results; the last one runs `drills report --allure`
with the real Allure command line (`make allure` fetches it; `make test` does so first) and
reads the data the single-file report embeds.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from drills.cli.allure_tool import find_allure, find_java
from tests.plugin.conftest import ToyProject, toy_cli_project
from tests.plugin.test_cli import drills

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


def _results_by_test(directory: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in directory.glob("*-result.json"):
        data = json.loads(path.read_text())
        found[data["name"]] = data
    return found


def _journal_steps(scenario: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(s["name"], _ms(s["started_at"]), _ms(s["ended_at"])) for s in scenario["steps"]]


def test_every_runbook_step_is_an_allure_step_with_the_drills_timing(toy: ToyProject) -> None:
    toy.add("sampled_drills.py", "test_sampled.py")
    result = toy.pytester.runpytest("--drill-report-dir=out", "--alluredir=allure")
    result.assert_outcomes(passed=2, failed=1)
    results = _results_by_test(toy.path / "allure")
    journal = toy.journal()
    timelines = json.loads((toy.path / "out" / "timeline.json").read_text())
    assert len(results) == len(journal["scenarios"]) == 3
    for scenario in journal["scenarios"]:
        allure_result = results[scenario["nodeid"].rpartition("::")[2]]
        steps = allure_result["steps"]
        # Same steps, same order, and each carries the drill clock's start and end (the toy
        # drills run on a FakeClock: 5 s baselines and 15-40 s recoveries in microseconds).
        shown = [(s["name"], s["start"], s["stop"]) for s in steps]
        assert shown == _journal_steps(scenario), scenario["id"]
        durations = {s["name"]: s["stop"] - s["start"] for s in steps}
        expected = {s["name"]: round(s["duration_s"] * 1000) for s in scenario["steps"]}
        assert durations == expected
        assert max(durations.values()) >= 15_000
        attachments = {a["name"]: a for a in allure_result["attachments"]}
        timeline = attachments.get(f"{scenario['id']} timeline")
        if scenario["id"] in timelines:  # a drill that recorded samples has its plot attached
            assert timeline is not None, scenario["id"]
            assert timeline["type"] == "image/png"
            png = (toy.path / "allure" / timeline["source"]).read_bytes()
            assert png.startswith(PNG_MAGIC)
            assert png == (toy.path / "out" / f"{scenario['id']}-timeline.png").read_bytes()
        else:
            assert timeline is None
        assert "drill record" in attachments
    assert set(timelines) == {"sampled-pass", "sampled-fail"}


_ALLURE = find_allure()
_JAVA = find_java()
needs_allure = pytest.mark.skipif(
    _ALLURE is None or _JAVA is None,
    reason=(
        "no Allure command line (`make allure` fetches it into the cache, or set DRILLS_ALLURE)"
        if _ALLURE is None
        else "Allure needs Java and none was found (java on PATH or JAVA_HOME)"
    ),
)

_EMBEDDED = re.compile(r"d\('([^']+)','([A-Za-z0-9+/=]*)'\)")


def _embedded(html: str) -> dict[str, bytes]:
    """The report data a single-file Allure report embeds: path -> decoded bytes."""
    return {name: base64.b64decode(value) for name, value in _EMBEDDED.findall(html)}


@needs_allure
def test_drills_report_allure_writes_one_self_contained_page(tmp_path: Path) -> None:
    project = toy_cli_project(tmp_path, ("sampled_drills.py", "test_sampled.py"))
    done = drills(project, "run", "sampled-pass", "sampled-fail")
    assert done.returncode == 1, done.stdout + done.stderr  # sampled-fail fails by design
    report = drills(project, "report", "--allure")
    assert report.returncode == 0, report.stdout + report.stderr
    run_dir = (project / "reports" / "latest").resolve()
    index = run_dir / "allure-report" / "index.html"
    assert f"allure: {index}" in report.stdout
    assert sorted(p.name for p in index.parent.iterdir()) == ["index.html"]
    html = index.read_text(encoding="utf-8")
    # Self-contained: every script, style and icon is inline or a data: URL; nothing phones home.
    external = re.findall(r"""(?:src|href)\s*=\s*["'](?!data:|#)([^"']+)""", html)
    assert external == []
    assert "googletagmanager" not in html
    data = _embedded(html)
    cases = [json.loads(v) for k, v in data.items() if k.startswith("data/test-cases/")]
    journal = json.loads((run_dir / "journal.json").read_text())
    by_name = {case["name"]: case for case in cases}
    assert len(by_name) == 2
    pngs = [k for k in data if k.startswith("data/attachments/") and k.endswith(".png")]
    assert len(pngs) == 2
    assert all(data[k].startswith(PNG_MAGIC) for k in pngs)
    for scenario in journal["scenarios"]:
        case = by_name[scenario["nodeid"].rpartition("::")[2]]
        steps = case["testStage"]["steps"]
        shown = [(s["name"], s["time"]["start"], s["time"]["stop"]) for s in steps]
        assert shown == _journal_steps(scenario)
        for step, recorded in zip(steps, scenario["steps"], strict=True):
            assert step["time"]["duration"] == round(recorded["duration_s"] * 1000)
        names = {a["name"] for a in case["testStage"]["attachments"]}
        assert f"{scenario['id']} timeline" in names
        assert "Wait for recovery" in {s["name"] for s in steps}
    # Run again: --clean replaces the page rather than failing on the existing directory.
    again = drills(project, "report", journal["run_id"], "--allure")
    assert again.returncode == 0, again.stdout + again.stderr
