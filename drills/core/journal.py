"""The journal: frozen records of what a drill did and measured, with a JSON round-trip.

The JSON shape is a contract (DESIGN.md): `run_id`, `environment`, `started_at`, `scenarios[]`
with `id`, `runbook`, `verdict`, `objectives[]`, `steps[]`, `rollbacks[]`. Extra keys are allowed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from drills.core.objectives import ObjectiveKind, ObjectiveResult, Verdict
from drills.core.provenance import RunProvenance

__all__ = [
    "DrillRecord",
    "FaultRecord",
    "Figure",
    "RollbackRecord",
    "RunJournal",
    "Sample",
    "StepOutcome",
    "StepRecord",
]


class StepOutcome(StrEnum):
    """How a runbook step ended."""

    OK = "ok"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class StepRecord:
    """A named runbook step; times are ISO-8601 UTC, offsets are seconds since the drill began."""

    name: str
    started_at: str
    ended_at: str
    outcome: StepOutcome
    offset_s: float
    duration_s: float
    detail: str = ""


@dataclass(frozen=True)
class FaultRecord:
    """A fault that was injected (or only planned, under --dry-run).

    `injected_at`/`offset_s` are when injection began (the RTO clock starts there);
    `landed_at`/`landed_offset_s` when the fault's apply() returned, i.e. it was in place
    (empty/None under --dry-run).
    """

    kind: str
    target: str
    description: str
    injected_at: str
    offset_s: float
    dry_run: bool = False
    landed_at: str = ""
    landed_offset_s: float | None = None


@dataclass(frozen=True)
class RollbackRecord:
    """A rollback and how it went."""

    entry_id: str
    kind: str
    target: str
    outcome: str
    detail: str = ""


@dataclass(frozen=True)
class Figure:
    """Any measured figure beside its target, e.g. user-side outage, TTD, error ratio, p95.

    A figure without a target says why in `no_target` (context for another judged figure, an
    intermediate milestone, a setting the drill reports): the report prints that reason.
    """

    name: str
    value: float | None
    unit: str
    target: float | None = None
    offset_s: float | None = None
    detail: str = ""
    no_target: str = ""


@dataclass(frozen=True)
class Sample:
    """One point of a timeline series (seconds since the drill began), e.g. replicas ready."""

    series: str
    offset_s: float
    value: float


@dataclass(frozen=True)
class DrillRecord:
    """Everything one drill measured, with its single verdict."""

    id: str
    runbook: str
    service: str
    severity: str
    verdict: Verdict
    reason: str
    started_at: str
    ended_at: str
    duration_s: float
    objectives: tuple[ObjectiveResult, ...] = ()
    steps: tuple[StepRecord, ...] = ()
    faults: tuple[FaultRecord, ...] = ()
    rollbacks: tuple[RollbackRecord, ...] = ()
    figures: tuple[Figure, ...] = ()
    report_incomplete: bool = False
    nodeid: str = ""
    variant: str = ""  # which of the drill's variants ran ("" when it has none)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of this record."""
        data = asdict(self)
        for item in data["objectives"]:
            item["name"] = str(item["name"])
            item["verdict"] = str(item["verdict"])
        for item in data["steps"]:
            item["outcome"] = str(item["outcome"])
        data["verdict"] = str(self.verdict)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DrillRecord:
        """Rebuild a record from its JSON dict (unknown keys are ignored)."""
        return cls(
            id=data["id"],
            runbook=data.get("runbook", ""),
            service=data.get("service", ""),
            severity=data.get("severity", ""),
            verdict=Verdict(data["verdict"]),
            reason=data.get("reason", ""),
            started_at=data.get("started_at", ""),
            ended_at=data.get("ended_at", ""),
            duration_s=float(data.get("duration_s", 0.0)),
            objectives=tuple(_objective(o) for o in data.get("objectives", [])),
            steps=tuple(_step(s) for s in data.get("steps", [])),
            faults=tuple(FaultRecord(**f) for f in data.get("faults", [])),
            rollbacks=tuple(RollbackRecord(**r) for r in data.get("rollbacks", [])),
            figures=tuple(Figure(**f) for f in data.get("figures", [])),
            report_incomplete=bool(data.get("report_incomplete", False)),
            variant=str(data.get("variant", "")),
            nodeid=data.get("nodeid", ""),
        )


def _objective(data: dict[str, Any]) -> ObjectiveResult:
    return ObjectiveResult(
        name=ObjectiveKind(data["name"]),
        service=data.get("service", ""),
        target_s=float(data["target_s"]),
        measured_s=None if data.get("measured_s") is None else float(data["measured_s"]),
        verdict=Verdict(data["verdict"]),
        detail=data.get("detail", ""),
    )


def _step(data: dict[str, Any]) -> StepRecord:
    return StepRecord(**{**data, "outcome": StepOutcome(data["outcome"])})


@dataclass(frozen=True)
class RunJournal:
    """One run of the harness: which environment, when, and every drill's record."""

    run_id: str
    environment: str
    started_at: str
    scenarios: tuple[DrillRecord, ...] = field(default_factory=tuple)
    cluster: Mapping[str, Any] = field(default_factory=dict)
    """What the cluster reported: ``kubernetes_version`` and ``settings`` (each flag the
    environment sets away from the upstream default: component, flag, value, upstream_default,
    why). Empty when unknown."""
    provenance: RunProvenance = field(default_factory=RunProvenance)
    """Who ran it (operator, approver, ticket) and with what (versions, commit, profile, host)."""

    def to_json(self) -> str:
        """Serialise to the journal.json contract."""
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "environment": self.environment,
            "started_at": self.started_at,
            "scenarios": [s.to_dict() for s in self.scenarios],
        }
        if self.cluster:
            data["cluster"] = dict(self.cluster)
        data["provenance"] = self.provenance.to_dict()
        return json.dumps(data, indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> RunJournal:
        """Parse journal.json text."""
        data = json.loads(text)
        return cls(
            run_id=data["run_id"],
            environment=data["environment"],
            started_at=data["started_at"],
            scenarios=tuple(DrillRecord.from_dict(s) for s in data.get("scenarios", [])),
            cluster=data.get("cluster") or {},
            provenance=RunProvenance.from_dict(data.get("provenance") or {}),
        )
