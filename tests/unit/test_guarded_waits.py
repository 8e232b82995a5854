"""Scenarios and fixtures wait only through `Drill.wait_until`, the wait the kill switch guards.

Issue 12 item 9: the bare `drills.core.waiting.wait_until` never looks at the kill switch, so a
scenario or fixture that used it let users fail for minutes after the switch tripped. This is
the contract that keeps it out of `scenarios/` and `fixtures/`: no import of the bare wait (from
the façade or from `drills.core.waiting`), no `drills.wait_until` attribute, no tenacity.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUARDED = ("scenarios", "fixtures")
# Not a drill: a throw-away HTTP service the harness's own Locust tests start and wait for.
EXEMPT = {"fixtures/outage_service.py"}
BARE_MODULES = {"drills.core.waiting", "tenacity"}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _import_offences(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [
            f"import {a.name}"
            for a in node.names
            if any(a.name == m or a.name.startswith(f"{m}.") for m in BARE_MODULES)
        ]
    if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
        return []
    names = {a.name for a in node.names}
    bare = (
        node.module in BARE_MODULES
        or node.module.startswith("tenacity.")
        or (node.module == "drills" and "wait_until" in names)
        or (node.module == "drills.core" and "waiting" in names)
    )
    wanted = sorted(names - {"Waited"}) if node.module == "drills.core.waiting" else sorted(names)
    return [f"from {node.module} import {', '.join(wanted)}"] if bare and wanted else []


def bare_waits(source: str) -> list[str]:
    """Every way `source` reaches the unguarded wait; empty when it waits only via the drill."""
    offences: list[str] = []
    for node in ast.walk(ast.parse(source)):
        offences += _import_offences(node)
        if isinstance(node, ast.Attribute) and node.attr == "wait_until":
            owner = _dotted(node.value)
            if owner in {"drills", "waiting"} or owner.endswith("core.waiting"):
                offences.append(f"{owner}.wait_until")
    return offences


def _guarded_modules() -> list[Path]:
    return sorted(p for part in GUARDED for p in (ROOT / part).rglob("*.py"))


def test_no_scenario_or_fixture_waits_past_the_kill_switch() -> None:
    found = {
        str(path.relative_to(ROOT)): bare_waits(path.read_text(encoding="utf-8"))
        for path in _guarded_modules()
        if str(path.relative_to(ROOT)) not in EXEMPT
    }
    offenders = {name: offences for name, offences in found.items() if offences}
    assert offenders == {}, (
        "wait with drill.wait_until(...) (guarded by the kill switch), not the bare wait_until"
    )
    assert len(found) > 10  # the scan really read the scenarios and fixtures


@pytest.mark.parametrize(
    "source",
    [
        "from drills import Drill, wait_until\n",
        "from drills import wait_until as wait\n",
        "from drills.core.waiting import wait_until\n",
        "from drills.core import waiting\n",
        "import drills.core.waiting\n",
        "import drills\ndrills.wait_until(lambda: True, clock=c, timeout_s=1)\n",
        "from tenacity import Retrying\n",
    ],
)
def test_a_scenario_reaching_the_bare_wait_breaks_the_contract(source: str) -> None:
    assert bare_waits(source)


def test_the_drills_own_wait_and_its_result_type_are_fine() -> None:
    source = (
        "from drills import Drill\n"
        "from drills.core.waiting import Waited\n"
        "def detect(drill: Drill) -> Waited:\n"
        "    return drill.wait_until(lambda: True, timeout_s=30, raise_on_timeout=False)\n"
    )
    assert bare_waits(source) == []
