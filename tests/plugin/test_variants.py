"""Variants are parameters of one drill: declared in its marker, chosen with `--variant`.

`drills list` shows them, the default is the first, the journal and the report name the one
that ran, and a variant the selected drill does not declare is a usage error before anything
runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.core.catalogue import parse_drill_marker
from drills.core.errors import ConfigError
from tests.plugin.conftest import toy_cli_project
from tests.plugin.test_cli import drills


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return toy_cli_project(tmp_path, ("variant_drills.py", "test_variants.py"))


def _scenario(project: Path, drill_id: str) -> dict[str, object]:
    journals = sorted(project.glob("reports/*/journal.json"))
    scenarios = json.loads(journals[-1].read_text())["scenarios"]
    found: dict[str, object] = next(s for s in scenarios if s["id"] == drill_id)
    return found


def test_list_shows_each_drills_variants_default_first(project: Path) -> None:
    done = drills(project, "list")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "toy-variants: short, long" in done.stdout
    assert "toy-pass:" not in done.stdout  # a drill without variants gets no line


def test_the_default_variant_is_the_first_and_the_journal_names_it(project: Path) -> None:
    done = drills(project, "run", "toy-variants")
    assert done.returncode == 0, done.stdout + done.stderr
    scenario = _scenario(project, "toy-variants")
    assert scenario["variant"] == "short"
    assert [f["value"] for f in scenario["figures"] if f["name"] == "outage"] == [5.0]  # type: ignore[attr-defined]


def test_variant_chooses_what_the_drill_injects(project: Path) -> None:
    done = drills(project, "run", "toy-variants", "--variant", "long")
    assert done.returncode == 0, done.stdout + done.stderr
    scenario = _scenario(project, "toy-variants")
    assert scenario["variant"] == "long"
    assert [f["value"] for f in scenario["figures"] if f["name"] == "outage"] == [40.0]  # type: ignore[attr-defined]
    report = sorted(project.glob("reports/*/report.html"))[-1].read_text()
    assert "variant long" in report


def test_an_unknown_variant_is_refused_before_anything_runs(project: Path) -> None:
    done = drills(project, "run", "toy-variants", "--variant", "huge")
    assert done.returncode == 2, done.stdout + done.stderr  # a usage error
    said = done.stdout + done.stderr
    assert "no variant 'huge'" in said
    assert "short, long" in said
    assert not list(project.glob("reports/*/journal.json"))


def test_a_variant_the_other_selected_drills_lack_is_refused(project: Path) -> None:
    done = drills(project, "run", "toy-variants", "toy-pass", "--variant", "long")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "drill toy-pass has no variant 'long'; its variants: none" in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("short", "must be a tuple of names"),
        (("Short",), "lower-case letters"),
        (("a", "a"), "names one twice"),
    ],
)
def test_a_bad_variants_argument_names_the_fix(value: object, says: str) -> None:
    kwargs = {"id": "x", "runbook": "§1", "service": "shop", "variants": value}
    with pytest.raises(ConfigError, match=says):
        parse_drill_marker("test_x.py", (), kwargs)
