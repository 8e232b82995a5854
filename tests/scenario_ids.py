"""The drill ids declared under scenarios/, read from the source (no pytest run needed).

`drills list` collects the same markers with pytest (drills/cli/collect.py, validated by
drills/core/catalogue.py); reading the `id=` of each `@pytest.mark.drill(...)` keeps the tests
and benchmarks that need the list free of a collection run.
"""

from __future__ import annotations

import ast
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def drill_ids(scenarios: Path = SCENARIOS) -> list[str]:
    """Every drill id, in the order of the scenario files' names."""
    ids: list[str] = []
    for path in sorted(scenarios.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "drill"
            ):
                ids.extend(
                    str(k.value.value)
                    for k in node.keywords
                    if k.arg == "id" and isinstance(k.value, ast.Constant)
                )
    return list(dict.fromkeys(ids))
