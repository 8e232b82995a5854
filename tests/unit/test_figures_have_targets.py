"""Every figure a drill records has a target, or says why it has none.

Issue 12 item 14: a figure printed without a target leaves the reader to guess whether it was
good. Each `record_figure` / `record_since_fault` call in the code base therefore passes
`target=` (or `target_s=`) or `no_target=`; the incident timings (TTD/TTM/TTR) get theirs from
`Drill` itself. This walks the source so that a call added later cannot forget.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from drills.core.journal import Figure

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("drills", "fixtures", "scenarios")
RECORDERS = {"record_figure", "record_since_fault"}
TARGET_KEYWORDS = {"target", "target_s", "no_target"}


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr not in RECORDERS:
            continue
        keywords = {k.arg for k in node.keywords}
        if None in keywords:  # **kwargs: the caller forwards its own target
            continue
        if not keywords & TARGET_KEYWORDS:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.func.attr}(...)")
    return found


def _sources() -> list[Path]:
    return sorted(p for top in SOURCES for p in (ROOT / top).rglob("*.py"))


def test_every_recorded_figure_has_a_target_or_a_reason() -> None:
    offences = [line for path in _sources() for line in _offences(path)]
    assert not offences, (
        "figures recorded without target= or no_target= (say why it has none):\n"
        + "\n".join(offences)
    )


@pytest.mark.parametrize(
    "source",
    [
        "drill.record_figure('x', 1.0, 's')",
        "drill.record_since_fault('x')",
    ],
)
def test_the_check_catches_a_figure_without_target(source: str, tmp_path: Path) -> None:
    sample = ROOT / "tests" / "unit" / f"_sample_{tmp_path.name}.py"
    sample.write_text(source + "\n", encoding="utf-8")
    try:
        assert _offences(sample)
    finally:
        sample.unlink()


def test_a_figure_keeps_its_reason_for_having_no_target() -> None:
    figure = Figure("sessions idle", 3.0, "sessions", no_target="context for the leak")
    assert figure.no_target == "context for the leak"
    assert figure.target is None
