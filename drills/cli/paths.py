"""Where things live for the CLI: the project root, scenarios, profiles, reports, the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProjectPaths", "find_root"]

_MARKERS = ("scenarios", "pyproject.toml", ".git")


def find_root(start: Path) -> Path:
    """The nearest directory at or above `start` holding scenarios/, pyproject.toml or .git."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if any((candidate / marker).exists() for marker in _MARKERS):
            return candidate
    return start


@dataclass(frozen=True)
class ProjectPaths:
    """The fixed top-level layout (DESIGN.md) under one root."""

    root: Path

    @property
    def scenarios(self) -> Path:
        """One module per runbook scenario."""
        return self.root / "scenarios"

    @property
    def profiles(self) -> Path:
        """Environment profiles (TOML)."""
        return self.root / "fixtures" / "environments"

    @property
    def reports(self) -> Path:
        """Run outputs; `latest` points at the newest run."""
        return self.root / "reports"

    @property
    def ledger(self) -> Path:
        """The persistent rollback ledger the plugin writes and `drills rollback` replays."""
        return self.root / ".drills" / "rollbacks.jsonl"

    def scenario_modules(self) -> list[Path]:
        """The scenario test modules present, sorted."""
        if not self.scenarios.is_dir():
            return []
        return sorted(self.scenarios.rglob("test_*.py"))
