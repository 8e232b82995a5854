"""Think time and request timeouts as every locustfile reads them (drills.locustfile)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from drills.core.profile import LoadSettings
from drills.core.service_init import FoundDeployment, locustfile_skeleton
from drills.load.pacing import DEFAULT_WAIT_S, think_time_s, timeouts_s

REPO = Path(__file__).resolve().parents[3]


def test_unset_variables_give_the_defaults() -> None:
    assert think_time_s({}) == DEFAULT_WAIT_S == (0.05, 0.2)
    assert timeouts_s({}) == (LoadSettings.connect_timeout_s, LoadSettings.read_timeout_s)


def test_the_harness_variables_are_read() -> None:
    assert think_time_s({"DRILLS_LOAD_WAIT_S": "0.01,0.02"}) == (0.01, 0.02)
    assert timeouts_s({"DRILLS_LOAD_TIMEOUTS_S": "3,1.5"}) == (3.0, 1.5)


@pytest.mark.parametrize("raw", ["0.1", "a,b", "1,2,3", "-1,2"])
def test_a_malformed_variable_names_itself(raw: str) -> None:
    with pytest.raises(ValueError, match="DRILLS_LOAD_TIMEOUTS_S"):
        timeouts_s({"DRILLS_LOAD_TIMEOUTS_S": raw})


def test_think_time_low_must_not_exceed_high() -> None:
    with pytest.raises(ValueError, match="DRILLS_LOAD_WAIT_S"):
        think_time_s({"DRILLS_LOAD_WAIT_S": "0.5,0.1"})


def _imports(source: str) -> set[str]:
    tree = ast.parse(source)
    return {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}


@pytest.mark.parametrize(
    "path",
    [
        "fixtures/locustfiles/shop.py",
        "fixtures/locustfiles/notes.py",
        "drills/locustfile/generic.py",
    ],
)
def test_every_locustfile_uses_the_one_helper(path: str) -> None:
    """No locustfile installs the stream or builds the shape itself any more."""
    source = (REPO / path).read_text(encoding="utf-8")
    assert "drills.locustfile" in _imports(source)
    assert "locust_stream" not in source
    assert "LoadTestShape" not in source


def test_the_init_skeleton_uses_the_helper() -> None:
    source = locustfile_skeleton(FoundDeployment("api", "ns", 1, "img"), "api")
    assert "drills.locustfile" in _imports(source)
    assert "setup(events)" in source
    assert "wait_time = think_time()" in source
