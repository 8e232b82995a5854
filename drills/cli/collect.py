"""Collect scenarios through pytest and the drills plugin, without running them."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from drills.core.catalogue import parse_drill_marker
from drills.core.errors import ConfigError

__all__ = ["CollectedDrill", "collect_drills"]


@dataclass(frozen=True)
class CollectedDrill:
    """One scenario as the marker declares it."""

    id: str
    runbook: str
    service: str
    severity: str
    nodeid: str
    marks: tuple[str, ...]
    rto_s: float | None
    rpo_s: float | None
    variants: tuple[str, ...] = ()  # the first is the default


class _Collector:
    """A throw-away pytest plugin that keeps the collected items' drill markers."""

    def __init__(self) -> None:
        self.drills: list[CollectedDrill] = []
        self.errors: list[str] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"{report.nodeid}: {report.longreprtext.strip()}")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            mark = item.get_closest_marker("drill")
            if mark is None:
                continue
            try:
                marker = parse_drill_marker(item.nodeid, mark.args, mark.kwargs)
            except ConfigError as exc:
                self.errors.append(str(exc))
                continue
            objectives = {o.kind.lower(): o.target_s for o in marker.objectives}
            marks = tuple(sorted({m.name for m in item.iter_markers()} - {"drill", "parametrize"}))
            self.drills.append(
                CollectedDrill(
                    marker.id,
                    marker.runbook,
                    marker.service,
                    marker.severity,
                    item.nodeid,
                    marks,
                    objectives.get("rto"),
                    objectives.get("rpo"),
                    marker.variants,
                )
            )


def collect_drills(root: Path, scenarios: Path, extra_args: list[str]) -> list[CollectedDrill]:
    """Collect drills under `scenarios` (pytest --collect-only, in process, quietly)."""
    collector = _Collector()
    # The terminal plugin stays (a project's addopts may use its options, e.g. -ra); what it
    # prints is kept aside and shown only when collecting fails.
    args = [str(scenarios), "--collect-only", "-q", f"--rootdir={root}"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = pytest.main([*args, *extra_args], plugins=[collector])
    if collector.errors:
        raise ConfigError("collecting scenarios failed:\n" + "\n".join(collector.errors))
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise ConfigError(
            f"collecting {scenarios} failed (pytest exit code {int(code)}):\n"
            + printed.getvalue().strip()
        )
    return collector.drills
