"""drills.core may import only the standard library (and tenacity, inside waiting.py)."""

import ast
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[3] / "drills" / "core"
ALLOWED_EXTRA = {"waiting.py": {"tenacity"}}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_imports_only_stdlib_and_itself() -> None:
    offenders = {}
    for path in sorted(CORE.glob("*.py")):
        allowed = set(sys.stdlib_module_names) | {"drills"} | ALLOWED_EXTRA.get(path.name, set())
        extra = _imported_roots(path) - allowed
        if extra:
            offenders[path.name] = sorted(extra)
    assert offenders == {}
    assert len(list(CORE.glob("*.py"))) > 5  # the scan really looked at the core modules
