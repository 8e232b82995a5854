"""What a scenario declares about itself (the `drill` marker's arguments) and run identifiers.

Pure functions shared by the pytest plugin and the CLI, which may not import each other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drills.core.clock import DrillClock
from drills.core.durations import parse_duration
from drills.core.errors import ConfigError
from drills.core.objectives import Objective, ObjectiveKind

__all__ = ["MARKER_ARGUMENTS", "DrillMarker", "new_run_id", "parse_drill_marker"]

_REQUIRED = ("id", "runbook", "service")
MARKER_ARGUMENTS = frozenset({*_REQUIRED, "severity", "rto", "rpo", "variants"})
_VARIANT = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class DrillMarker:
    """The validated arguments of one `@pytest.mark.drill(...)`."""

    id: str
    runbook: str
    service: str
    severity: str = ""
    objectives: tuple[Objective, ...] = ()
    variants: tuple[str, ...] = ()  # the first is the default; () when the drill has none

    def variant(self, wanted: str | None) -> str:
        """The variant to run: `wanted`, else the default; ConfigError names the known ones."""
        if wanted is None:
            return self.variants[0] if self.variants else ""
        if wanted not in self.variants:
            known = ", ".join(self.variants) if self.variants else "none"
            raise ConfigError(
                f"drill {self.id} has no variant {wanted!r}; its variants: {known} "
                "(`drills list` shows every drill's)"
            )
        return wanted


def parse_drill_marker(where: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> DrillMarker:
    """Validate the marker's arguments; raises ConfigError naming `where` and the fix."""
    if args:
        raise ConfigError(
            f"{where} takes keywords only, e.g. drill(id='pod-kill', runbook='§3.2', ...)"
        )
    unknown = sorted(set(kwargs) - MARKER_ARGUMENTS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown argument(s) {unknown}; allowed: {sorted(MARKER_ARGUMENTS)}"
        )
    missing = [k for k in _REQUIRED if not kwargs.get(k)]
    if missing:
        raise ConfigError(
            f"{where}: missing {missing}; every drill names its id, runbook and service"
        )
    service = str(kwargs["service"])
    return DrillMarker(
        id=str(kwargs["id"]),
        runbook=str(kwargs["runbook"]),
        service=service,
        severity=str(kwargs.get("severity", "")),
        objectives=_objectives(where, service, kwargs),
        variants=_variants(where, kwargs.get("variants", ())),
    )


def _variants(where: str, value: Any) -> tuple[str, ...]:
    """Validate `variants=`: a tuple of distinct lower-case names, e.g. ("half", "all")."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise ConfigError(f"{where}: variants={value!r} must be a tuple of names, e.g. ('a', 'b')")
    names = tuple(str(v) for v in value)
    bad = [n for n in names if not _VARIANT.match(n)]
    if bad:
        raise ConfigError(
            f"{where}: variant name(s) {bad} must be lower-case letters, digits and dashes"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: variants={names!r} names one twice")
    return names


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


def new_run_id(clock: DrillClock) -> str:
    """A sortable run id from the wall clock, e.g. `20260101T120000Z`."""
    return clock.wall().strftime("%Y%m%dT%H%M%SZ")
