"""The `drill` marker: what a scenario drills (id, runbook section, service, severity)."""

from __future__ import annotations

import pytest

from drills.core.catalogue import DrillMarker, parse_drill_marker
from drills.core.errors import ConfigError

__all__ = [
    "MARKERS",
    "DrillMarker",
    "check_variant",
    "drill_marker",
    "register_markers",
    "select_drills",
    "variant_of",
]

MARKERS = (
    "drill(id, runbook, service, severity, rto=None, rpo=None, variants=()): a drill scenario "
    "and the runbook section it drills; rto/rpo override the profile's targets for this drill; "
    "variants name its variants, the first the default",
    "gate: part of the staging CI gate",
    "cert: usable as an on-call certification practical",
    "sandbox: needs the local sandbox (real processes, PostgreSQL, moto)",
    "containers: needs a Docker engine (testcontainers); skipped where none answers",
    "slow: end-to-end; runs whole drills",
)


def register_markers(config: pytest.Config) -> None:
    """Declare the markers, so `--strict-markers` accepts them anywhere the plugin loads."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def drill_marker(item: pytest.Item) -> DrillMarker | None:
    """Parse the item's `drill` marker; None when it has none. Raises ConfigError if invalid."""
    mark = item.get_closest_marker("drill")
    if mark is None:
        return None
    return parse_drill_marker(f"{item.nodeid}: @pytest.mark.drill", mark.args, mark.kwargs)


def drill_ids(items: list[pytest.Item]) -> tuple[str, ...]:
    """The drill ids of `items`, once each, in order.

    An invalid marker is skipped here: the drill fixture reports it.
    """
    ids = []
    for item in items:
        try:
            marker = drill_marker(item)
        except ConfigError:
            continue
        if marker is not None:
            ids.append(marker.id)
    return tuple(dict.fromkeys(ids))


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


def check_variant(items: list[pytest.Item], variant: str | None) -> None:
    """UsageError unless every drill among `items` declares `variant` (None: nothing asked)."""
    if variant is None:
        return
    for item in items:
        marker = _safe_marker(item)
        if marker is None:
            continue
        try:
            marker.variant(variant)
        except ConfigError as exc:
            raise pytest.UsageError(f"--variant {variant}: {exc}") from exc


def variant_of(item: pytest.Item) -> str:
    """The variant the item runs: --drill-variant, else its marker's default ("" if none)."""
    marker = _safe_marker(item)
    if marker is None:
        return ""
    try:
        return marker.variant(item.config.getoption("drill_variant"))
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc


def _safe_marker(item: pytest.Item) -> DrillMarker | None:
    try:
        return drill_marker(item)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc
