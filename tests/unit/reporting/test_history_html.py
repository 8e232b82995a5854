"""reports/history.html: a section per environment and drill with its plot, runs and operators."""

import base64
import re
from pathlib import Path

from drills.core.objectives import Verdict
from drills.core.trend import HistorySettings, judge_all
from drills.reporting.history_html import render_history
from drills.reporting.history_store import load_history
from tests.unit.reporting.history_runs import write_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _page(reports: Path) -> str:
    runs = load_history(reports)
    trends = judge_all(runs, lambda env: HistorySettings())
    out = render_history(
        runs,
        trends,
        reports / "history.html",
        settings={"staging": HistorySettings(window=4, rto_growth=0.25)},
        generated_at="2026-10-01 12:00 UTC",
    )
    return out.read_text(encoding="utf-8")


def test_the_page_shows_every_drill_with_a_plot_verdicts_and_operators(tmp_path: Path) -> None:
    write_run(tmp_path, "q1", month=3, rto_s=30.0, operator="alice")
    write_run(tmp_path, "q2", month=6, rto_s=32.0, operator="bob")
    write_run(tmp_path, "q3", month=9, rto_s=80.0, operator="carol", verdict=Verdict.FAIL)
    write_run(tmp_path, "p1", month=4, rto_s=5.0, drill="pitr", operator="dave")
    write_run(tmp_path, "p2", month=7, rto_s=None, rpo_s=None, drill="pitr", operator="erin")
    write_run(tmp_path, "s1", month=5, rto_s=9.0, environment="sandbox", operator="ci")
    html = _page(tmp_path)
    for text in ("pod-kill-under-load", "pitr", "Environment staging", "Environment sandbox"):
        assert text in html
    for operator in ("alice", "bob", "carol", "dave", "erin", "ci"):
        assert f"<td>{operator}</td>" in html
    assert "2 regression(s)" in html  # q3 lost its PASS and its RTO grew past +50%
    assert "PASS in q2 -&gt; FAIL in q3" in html
    assert "RTO not measured in p2, so not compared" in html
    assert "not measured (target 1m)" in html
    assert "median of up to 4 previous run(s); RTO may grow by\n25%" in html
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(pngs) == 3  # staging/pod-kill, staging/pitr, sandbox/pod-kill
    for encoded in pngs:
        png = base64.b64decode(encoded)
        assert png.startswith(PNG_SIGNATURE)
        assert len(png) > 10_000  # two panels with axes, lines and a legend


def test_the_page_names_environments_apart_and_writes_its_directory(tmp_path: Path) -> None:
    write_run(tmp_path, "q1", month=3, rto_s=30.0)
    write_run(tmp_path, "s1", month=4, rto_s=90.0, environment="sandbox")
    runs = load_history(tmp_path)
    out = render_history(
        runs,
        judge_all(runs, lambda env: HistorySettings()),
        tmp_path / "site" / "trend.html",
        settings={},
        generated_at="now",
    )
    html = out.read_text(encoding="utf-8")
    assert 'id="staging--pod-kill-under-load"' in html
    assert 'id="sandbox--pod-kill-under-load"' in html
    assert "no regression" in html
    assert html.count("first run") == 2


def test_a_target_far_above_the_runs_is_named_not_drawn_so_the_trend_stays_readable() -> None:
    from matplotlib.figure import Figure

    from drills.reporting.trend_plots import _zoom_on_the_trend

    far, near = Figure().subplots(), Figure().subplots()
    _zoom_on_the_trend(far, [10.9, 10.6, 11.2], [900.0, 900.0, 900.0])
    assert far.get_ylim()[1] < 20  # zoomed on the runs
    assert [t.get_text() for t in far.texts] == ["target 900 s: above the scale"]
    near.set_ylim(0, 40)
    _zoom_on_the_trend(near, [10.0, 12.0], [30.0, 30.0])  # within 4x: drawn as a line
    assert near.get_ylim() == (0.0, 40.0)
    assert len(near.texts) == 0
