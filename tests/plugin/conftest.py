"""Helpers for plugin tests: a pytester directory laid out like a project that uses drills."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[1]
EXAMPLES = HERE / "examples"


class ToyProject:
    """A pytester directory with the sandbox profile, the toy fault and chosen toy drills."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.path = pytester.path
        profiles = self.path / "fixtures" / "environments"
        profiles.mkdir(parents=True)
        shutil.copy(REPO / "fixtures" / "environments" / "sandbox.toml", profiles)
        shutil.copy(EXAMPLES / "toyfault.py", self.path / "toyfault.py")
        shutil.copy(EXAMPLES / "toy_conftest.py", self.path / "conftest.py")

    def add(self, example: str, as_name: str) -> Path:
        target = self.path / as_name
        shutil.copy(EXAMPLES / example, target)
        return target

    def journal(self, report_dir: str = "out") -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / report_dir / "journal.json").read_text())
        return data

    def verdicts(self, report_dir: str = "out") -> dict[str, str]:
        return {s["id"]: s["verdict"] for s in self.journal(report_dir)["scenarios"]}

    def junit_properties(self, name: str = "junit.xml") -> dict[str, dict[str, str]]:
        tree = ET.parse(self.path / name)
        found: dict[str, dict[str, str]] = {}
        for case in tree.iter("testcase"):
            props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
            found[case.get("name", "")] = props
        return found

    def pending(self) -> list[dict[str, Any]]:
        from drills.core.safety import RollbackLedger

        ledger = RollbackLedger(self.path / ".drills" / "rollbacks.jsonl")
        return [{"kind": e.kind, "target": e.target} for e in ledger.pending()]


@pytest.fixture
def toy(pytester: pytest.Pytester) -> ToyProject:
    return ToyProject(pytester)


def toy_cli_project(root: Path, *extra: tuple[str, str]) -> Path:
    """A project laid out like this repository whose scenarios are the toy drills.

    `extra` adds (example file, scenario file name) pairs to scenarios/.
    """
    profiles = root / "fixtures" / "environments"
    profiles.mkdir(parents=True)
    shutil.copy(REPO / "fixtures" / "environments" / "sandbox.toml", profiles)
    shutil.copy(EXAMPLES / "toy_conftest.py", root / "conftest.py")
    scenarios = root / "scenarios"
    scenarios.mkdir()
    shutil.copy(EXAMPLES / "toyfault.py", scenarios / "toyfault.py")
    for example, name in (("toy_drills.py", "test_toy.py"), *extra):
        shutil.copy(EXAMPLES / example, scenarios / name)
    return root
