"""`drills history` in process: the table, the gate's exit codes and messages, the trend page."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from drills.cli import build_parser, main
from drills.cli.history import history_command
from drills.cli.paths import ProjectPaths
from drills.core.objectives import Verdict
from tests.unit.reporting.history_runs import write_run


def history(paths: ProjectPaths, *words: str) -> tuple[int, str]:
    out = io.StringIO()
    args = build_parser().parse_args(["history", *words])
    code = history_command(args, paths, Console(file=out, width=400, soft_wrap=True))
    return code, out.getvalue()


@pytest.fixture
def paths(tmp_path: Path) -> ProjectPaths:
    project = ProjectPaths(tmp_path / "project")
    project.profiles.mkdir(parents=True)
    return project


def profile(paths: ProjectPaths, name: str, history_table: str) -> Path:
    path = paths.profiles / f"{name}.toml"
    path.write_text(f'name = "{name}"\n\n[history]\n{history_table}\n', encoding="utf-8")
    return path


def test_without_runs_exits_zero_with_a_message(paths: ProjectPaths) -> None:
    code, out = history(paths)
    assert code == 0
    assert "No runs in" in out
    assert not paths.reports.exists()


def test_each_run_is_shown_and_steady_figures_pass(paths: ProjectPaths) -> None:
    for month, rto_s in ((3, 12.0), (6, 14.0), (9, 13.0)):
        write_run(paths.reports, f"q{month}", month=month, rto_s=rto_s, operator="alice")
    (paths.reports / "latest").symlink_to("q9")
    code, out = history(paths)
    assert code == 0
    assert out.count("pod-kill-under-load") == 3  # the latest link is not a fourth run
    assert "12.0s" in out
    assert "alice" in out
    assert "no regression" in out
    assert "defaults: no profile" in out  # no staging.toml here


def test_a_regression_exits_one_and_names_drill_figure_median_and_threshold(
    paths: ProjectPaths,
) -> None:
    for month, rto_s in ((1, 10.0), (2, 30.0), (3, 12.0), (4, 11.0), (5, 17.0)):
        write_run(paths.reports, f"r{month}", month=month, rto_s=rto_s)
    code, out = history(paths)
    assert code == 0  # +48% over the median 11.5s of the previous 4 is within the default +50%
    assert "no regression" in out
    profile(paths, "staging", "window = 3\nrto_growth = 0.4")
    code, out = history(paths)
    assert code == 1
    assert (
        "staging · pod-kill-under-load: RTO 17.0s in r5 is +42% over the median 12.0s of the "
        "previous 3 measured run(s) (threshold +40%)"
    ) in out
    assert "gate staging: latest run vs the median of up to 3 previous run(s); RTO +40%" in out


def test_a_lost_pass_is_named(paths: ProjectPaths) -> None:
    write_run(paths.reports, "run-03", month=3, rto_s=12.0)
    write_run(paths.reports, "run-04", month=4, rto_s=13.0, verdict=Verdict.FAIL)
    code, out = history(paths)
    assert code == 1
    assert "staging · pod-kill-under-load: PASS in run-03 -> FAIL in run-04" in out


def test_runs_of_other_environments_are_not_compared(paths: ProjectPaths) -> None:
    write_run(paths.reports, "s1", month=1, rto_s=10.0, environment="sandbox")
    write_run(paths.reports, "p1", month=2, rto_s=600.0, environment="staging")
    write_run(paths.reports, "s2", month=3, rto_s=11.0, environment="sandbox")
    write_run(paths.reports, "p2", month=4, rto_s=700.0, environment="staging")
    assert history(paths)[0] == 0
    write_run(paths.reports, "p3", month=5, rto_s=2000.0, environment="staging")
    assert history(paths, "--env", "sandbox")[0] == 0
    code, out = history(paths, "--env", "staging")
    assert code == 1
    assert "RTO 33m20s in p3 is +208% over the median 10m50s" in out
    assert "s1" not in out


def test_an_unmeasured_figure_is_not_measured_not_a_regression(paths: ProjectPaths) -> None:
    write_run(paths.reports, "q1", month=1, rto_s=10.0)
    write_run(paths.reports, "q2", month=2, rto_s=None, rpo_s=None, verdict=Verdict.ERROR)
    code, out = history(paths)
    assert code == 1  # the lost PASS, and nothing about figures nobody measured
    assert "1 regression(s):" in out
    assert "note: staging · pod-kill-under-load: RTO not measured in q2, so not compared" in out


def test_filters_say_what_there_is_when_nothing_matches(paths: ProjectPaths) -> None:
    write_run(paths.reports, "run-03", month=3, rto_s=12.0)
    write_run(paths.reports, "run-05", month=5, rto_s=9.0, drill="pitr", environment="sandbox")
    code, out = history(paths, "--drill", "pitr")
    assert code == 0
    assert "pod-kill" not in out
    code, out = history(paths, "--drill", "nope", "--env", "staging")
    assert code == 0
    assert "No runs of drill 'nope' in environment 'staging'" in out
    assert "run-03, run-05" in out
    assert "Environments: sandbox, staging" in out


def test_an_unreadable_journal_or_a_bad_profile_is_a_usage_error(paths: ProjectPaths) -> None:
    write_run(paths.reports, "q1", month=1, rto_s=10.0)
    profile(paths, "staging", "window = 0")
    code, out = history(paths)
    assert code == 2
    assert "key 'history.window' is 0" in out
    (paths.reports / "broken").mkdir()
    (paths.reports / "broken" / "journal.json").write_text("not json")
    code, out = history(paths)
    assert code == 2
    assert "not a readable journal" in out


def test_html_writes_the_trend_page_beside_the_runs_by_default(paths: ProjectPaths) -> None:
    write_run(paths.reports, "q1", month=1, rto_s=10.0, operator="alice")
    write_run(paths.reports, "q2", month=2, rto_s=11.0, operator="bob")
    code, out = history(paths, "--html")
    page = paths.reports / "history.html"
    assert code == 0
    assert f"trend page: {page.resolve()}" in out
    html = page.read_text(encoding="utf-8")
    assert "pod-kill-under-load" in html
    assert "<td>bob</td>" in html
    assert "data:image/png;base64," in html


def test_html_to_a_path_and_the_gate_still_decides_the_exit(paths: ProjectPaths) -> None:
    write_run(paths.reports, "q1", month=1, rto_s=10.0)
    write_run(paths.reports, "q2", month=2, rto_s=100.0)
    page = paths.root / "site" / "trend.html"
    code, _ = history(paths, "--html", str(page))
    assert code == 1
    assert "1 regression(s)" in page.read_text(encoding="utf-8")
    assert not (paths.reports / "history.html").exists()


def test_history_is_wired_into_the_cli(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    reports = tmp_path / "elsewhere"
    write_run(reports, "run-03", month=3, rto_s=12.0)
    write_run(reports, "run-04", month=4, rto_s=80.0, verdict=Verdict.FAIL)
    assert main(["--root", str(tmp_path), "history", "--reports-dir", str(reports)]) == 1
    assert main(["--root", str(tmp_path), "history", "--drill", "pod-kill-under-load"]) == 0
    text = capfd.readouterr().out
    assert "regression" in text
    assert "No runs of drill 'pod-kill-under-load'" in text
