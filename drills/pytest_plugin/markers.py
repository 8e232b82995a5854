"""The `drill` marker: what a scenario drills (id, runbook section, service, severity)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from drills.core.durations import parse_duration
from drills.core.errors import ConfigError
from drills.core.objectives import Objective, ObjectiveKind

__all__ = ["MARKERS", "DrillMarker", "drill_marker", "register_markers", "select_drills"]

MARKERS = (
    "drill(id, runbook, service, severity, rto=None, rpo=None): a drill scenario and the "
    "runbook section it drills; rto/rpo override the profile's targets for this drill",
    "gate: part of the staging CI gate",
    "cert: usable as an on-call certification practical",
    "sandbox: needs the local sandbox (real processes, PostgreSQL, moto)",
    "containers: needs a Docker engine (testcontainers); skipped where none answers",
    "slow: end-to-end; runs whole drills",
)
_REQUIRED = ("id", "runbook", "service")
_ALLOWED = {*_REQUIRED, "severity", "rto", "rpo"}


@dataclass(frozen=True)
class DrillMarker:
    """The validated arguments of one `@pytest.mark.drill(...)`."""

    id: str
    runbook: str
    service: str
    severity: str = ""
    objectives: tuple[Objective, ...] = ()


def register_markers(config: pytest.Config) -> None:
    """Declare the markers, so `--strict-markers` accepts them anywhere the plugin loads."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def drill_marker(item: pytest.Item) -> DrillMarker | None:
    """Parse the item's `drill` marker; None when it has none. Raises ConfigError if invalid."""
    mark = item.get_closest_marker("drill")
    if mark is None:
        return None
    where = f"{item.nodeid}: @pytest.mark.drill"
    if mark.args:
        raise ConfigError(
            f"{where} takes keywords only, e.g. drill(id='pod-kill', runbook='§3.2', ...)"
        )
    unknown = sorted(set(mark.kwargs) - _ALLOWED)
    if unknown:
        raise ConfigError(f"{where}: unknown argument(s) {unknown}; allowed: {sorted(_ALLOWED)}")
    missing = [k for k in _REQUIRED if not mark.kwargs.get(k)]
    if missing:
        raise ConfigError(
            f"{where}: missing {missing}; every drill names its id, runbook and service"
        )
    service = str(mark.kwargs["service"])
    return DrillMarker(
        id=str(mark.kwargs["id"]),
        runbook=str(mark.kwargs["runbook"]),
        service=service,
        severity=str(mark.kwargs.get("severity", "")),
        objectives=_objectives(where, service, mark.kwargs),
    )


def _objectives(where: str, service: str, kwargs: Mapping[str, Any]) -> tuple[Objective, ...]:
    found = []
    for kind in (ObjectiveKind.RTO, ObjectiveKind.RPO):
        value = kwargs.get(kind.lower())
        if value is None:
            continue
        try:
            seconds = parse_duration(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {kind.lower()}={value!r}: {exc}") from exc
        found.append(Objective(kind, service, seconds))
    return tuple(found)


def select_drills(
    items: list[pytest.Item], wanted: tuple[str, ...]
) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """Split items into (kept, deselected) by drill id; unknown ids raise UsageError."""
    if not wanted:
        return items, []
    ids: dict[pytest.Item, str] = {}
    for item in items:
        marker = _safe_marker(item)
        if marker is not None:
            ids[item] = marker.id
    unknown = sorted(set(wanted) - set(ids.values()))
    if unknown:
        known = ", ".join(sorted(set(ids.values()))) or "none collected"
        raise pytest.UsageError(f"unknown drill id(s): {', '.join(unknown)}; known: {known}")
    kept = [item for item in items if ids.get(item) in wanted]
    return kept, [item for item in items if item not in kept]


def _safe_marker(item: pytest.Item) -> DrillMarker | None:
    try:
        return drill_marker(item)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc
