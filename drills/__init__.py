"""drills: chaos and disaster-recovery drills as pytest scenarios.

Scenarios and fixtures import from here only, so internals can move.
"""

from drills.core.autoscaling import desired_replicas
from drills.core.clock import DrillClock, FakeClock, SystemClock
from drills.core.conditions import Condition, Observation
from drills.core.dataloss import AcknowledgedWrite, DataLossReport, compare_ledger
from drills.core.drill import DefaultWaits, Drill, DrillSpec, Fault
from drills.core.durations import format_duration, parse_duration
from drills.core.errors import (
    ConfigError,
    CouldNotVerify,
    DrillAborted,
    DrillError,
    InjectionFailed,
    RecoveryStepMissing,
    RollbackFailed,
    RpoBreached,
    RtoBreached,
    SafetyViolation,
    SteadyStateNotMet,
)
from drills.core.events import DrillEvents
from drills.core.journal import DrillRecord, RunJournal
from drills.core.objectives import Objective, ObjectiveKind, ObjectiveResult, Verdict
from drills.core.safety import BlastRadius, RollbackEntry, RollbackLedger
from drills.core.waiting import Waited, wait_until
from drills.targets.ports import Database, LoadGenerator, PodState, SnapshotStore, Workload

__all__ = [
    "AcknowledgedWrite",
    "BlastRadius",
    "Condition",
    "ConfigError",
    "CouldNotVerify",
    "DataLossReport",
    "Database",
    "DefaultWaits",
    "Drill",
    "DrillAborted",
    "DrillClock",
    "DrillError",
    "DrillEvents",
    "DrillRecord",
    "DrillSpec",
    "FakeClock",
    "Fault",
    "InjectionFailed",
    "LoadGenerator",
    "Objective",
    "ObjectiveKind",
    "ObjectiveResult",
    "Observation",
    "PodState",
    "RecoveryStepMissing",
    "RollbackEntry",
    "RollbackFailed",
    "RollbackLedger",
    "RpoBreached",
    "RtoBreached",
    "RunJournal",
    "SafetyViolation",
    "SnapshotStore",
    "SteadyStateNotMet",
    "SystemClock",
    "Verdict",
    "Waited",
    "Workload",
    "compare_ledger",
    "desired_replicas",
    "format_duration",
    "parse_duration",
    "wait_until",
]
