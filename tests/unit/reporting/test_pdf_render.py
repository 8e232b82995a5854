"""A real headless Chromium prints a report whose verdict table has a FAIL row; page 1 is read back.

The browser is the one `drills report --pdf` would use; where there is none, the cached one is
fetched (`make chromium` does it before the tests; seconds, then a cache hit). The first page is
turned into an image with pdftoppm when it is installed, else with PDFium (pypdfium2), and
checked: not blank, the FAIL badge's red is there; its text holds the verdict table's drill ids
and verdicts. Skipped, saying why, only when no Chromium can be had (no npm, no registry).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import cast

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
from PIL import Image

from drills.core.errors import ConfigError
from drills.core.journal import RunJournal
from drills.core.objectives import Verdict
from drills.reporting.chromium import fetch_chromium
from drills.reporting.html import render_report
from drills.reporting.pdf import Browser, BrowserNotFound, find_browser, print_pdf
from tests.unit.reporting.test_html import _record, _samples

pytestmark = pytest.mark.slow

A4_PT = (595.3, 841.9)
FAIL_RED = (0xC9, 0x2A, 0x2A)  # .FAIL { background: #c92a2a } in report.html.j2
DRILLS = {
    "pod-kill-under-load": Verdict.FAIL,
    "pitr-restore": Verdict.COULD_NOT_VERIFY,
    "db-pool-exhaustion": Verdict.PASS,
}


@pytest.fixture(scope="module")
def browser() -> Browser:
    try:
        return find_browser()
    except BrowserNotFound:
        pass
    try:
        binary = fetch_chromium()
    except ConfigError as exc:
        pytest.skip(f"no headless Chromium here and none could be fetched: {exc}")
    return find_browser(cached=lambda env: binary)


def _first_page_image(pdf: Path, tmp_path: Path) -> Image.Image:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm:
        prefix = tmp_path / "page"
        subprocess.run(
            [pdftoppm, "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", str(pdf), prefix],
            check=True,
            timeout=60,
        )
        return Image.open(prefix.with_suffix(".png")).convert("RGB")
    document = pdfium.PdfDocument(pdf)
    try:
        page: Image.Image = document[0].render(scale=100 / 72).to_pil()
        return page.convert("RGB")
    finally:
        document.close()


def _near(pixel: tuple[int, int, int], colour: tuple[int, int, int], by: int = 40) -> bool:
    return all(abs(a - b) <= by for a, b in zip(pixel, colour, strict=True))


def test_report_pdf_shows_the_verdict_table_on_page_one(browser: Browser, tmp_path: Path) -> None:
    records = tuple(
        _record(drill, verdict, 20.0 if verdict is Verdict.FAIL else 3.0)
        for drill, verdict in DRILLS.items()
    )
    journal = RunJournal("run-pdf", "sandbox", "2026-01-01T00:00:00+00:00", records)
    html = render_report(journal, {"pod-kill-under-load": _samples()}, tmp_path / "report.html")

    pdf = print_pdf(html, tmp_path / "report.pdf", browser=browser, timeout_s=120)

    assert pdf.read_bytes().startswith(b"%PDF-")
    document = pdfium.PdfDocument(pdf)
    try:
        assert len(document) >= 1 + len(DRILLS)  # page 1, then each drill from a new page
        width, height = document[0].get_size()
        assert (round(width, 1), round(height, 1)) == pytest.approx(A4_PT, abs=1.0)
        text = " ".join(document[0].get_textpage().get_text_range().split())
    finally:
        document.close()
    assert "Drill report FAIL" in text
    assert "1 of 3 drill(s) passed" in text
    for drill, verdict in DRILLS.items():
        assert f"{drill} " in text, f"{drill} is not on page 1"
        assert verdict.value in text
    assert "20.0s (target 15.0s)" in text  # the FAIL row's measured RTO beside its target

    image = _first_page_image(pdf, tmp_path)
    pixels = cast(list[tuple[int, int, int]], list(image.get_flattened_data()))
    inked = sum(1 for p in pixels if sum(p) < 600)
    assert inked > len(pixels) // 200, "page 1 is (nearly) blank"
    red = sum(1 for p in pixels if _near(p, FAIL_RED))
    assert red > 100, "no FAIL badge (red) on page 1: print colours lost?"
