"""`drills report --pdf`: the message and exit code without a browser, the path with one.

The browser here is the fake of tests/unit/reporting/test_pdf.py (it speaks the DevTools
protocol); tests/unit/reporting/test_pdf_render.py prints with a real Chromium.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.cli import main
from drills.core.objectives import Verdict
from tests.unit.cli.test_evidence import write_run
from tests.unit.reporting.test_pdf import FAKE_PDF, SPEAKS, fake_browser


@pytest.fixture
def no_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No DRILLS_CHROMIUM, nothing on PATH, an empty cache."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("DRILLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DRILLS_CHROMIUM", raising=False)


@pytest.mark.usefixtures("no_browser")
def test_without_a_browser_it_says_how_to_get_one_and_exits_2(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run_dir = write_run(tmp_path / "reports", "run-01", Verdict.FAIL, 80.0)
    assert main(["--root", str(tmp_path), "report", "run-01", "--pdf"]) == 2
    shown = " ".join(capfd.readouterr().out.split())
    assert str(run_dir.resolve() / "report.html") in shown  # the page is still re-rendered
    assert "no PDF: no headless Chromium found" in shown
    assert "DRILLS_CHROMIUM=/path/to/chrome" in shown
    assert "google-chrome" in shown
    assert "make chromium" in shown
    assert not (run_dir / "report.pdf").exists()
    assert main(["--root", str(tmp_path), "report", "run-01"]) == 0  # no --pdf: no browser needed


@pytest.mark.usefixtures("no_browser")
def test_with_a_browser_it_writes_report_pdf_and_prints_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    run_dir = write_run(tmp_path / "reports", "run-01", Verdict.PASS, 12.0)
    (tmp_path / "reports" / "latest").symlink_to("run-01")
    monkeypatch.setenv("DRILLS_CHROMIUM", str(fake_browser(tmp_path, SPEAKS)))
    assert main(["--root", str(tmp_path), "report", "--pdf"]) == 0
    lines = capfd.readouterr().out.split()
    assert lines[-1] == str(run_dir.resolve() / "report.pdf")
    assert (run_dir / "report.pdf").read_bytes() == FAKE_PDF


@pytest.mark.usefixtures("no_browser")
def test_a_missing_run_is_reported_once_and_no_browser_is_looked_for(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "reports").mkdir()
    assert main(["--root", str(tmp_path), "report", "run-99", "--pdf"]) == 2
    shown = capfd.readouterr().out
    assert "no run 'run-99'" in shown
    assert "Chromium" not in shown
