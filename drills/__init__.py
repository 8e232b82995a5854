"""drills: chaos and disaster-recovery drills as pytest scenarios.

Scenarios and fixtures import from here only, so internals can move. They wait through
`Drill.wait_until`, which the kill switch guards; the bare `drills.core.waiting.wait_until` is
deliberately not offered here (tests/unit/test_guarded_waits.py keeps it out of them).
"""

from drills.core.autoscaling import desired_replicas
from drills.core.catalogue import DrillMarker
from drills.core.clock import DrillClock, FakeClock, SystemClock
from drills.core.conditions import Condition, Observation
from drills.core.dataloss import (
    ORDERS_TABLE_DDL,
    AcknowledgedWrite,
    DataLossReport,
    canonical_payload,
    compare_ledger,
    payload_hash,
    verify_ledger,
)
from drills.core.drill import DefaultWaits, Drill, DrillSpec, DryRunHalt, Fault
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
from drills.core.profile import (
    AutoscalingSettings,
    Endpoints,
    PoolSettings,
    Profile,
    load_profile,
    resolve_endpoints,
)
from drills.core.safety import BlastRadius, RollbackEntry, RollbackLedger, RollbackRegistry
from drills.core.waiting import Waited
from drills.faults.data import DestructiveStatement, drop_table, mass_delete
from drills.faults.pods import BadRelease, KillPods, bad_release_image
from drills.faults.pool import PoolExhaustion, leak_application_name
from drills.load.ledger import WriteLedger
from drills.probes.autoscaling import hpa_present, replicas_above, replicas_settled_at
from drills.probes.kube import endpoints_listed, no_pod_waiting, replicas_ready
from drills.probes.rollout import RestartWatch, crash_looping, rollout_complete
from drills.probes.sql import connections_below, connections_refused, sql_reachable
from drills.recovery.pitr import judge_pitr, pitr_summary, promote_replica, recover_to_point
from drills.recovery.repoint import Repointed, repoint
from drills.recovery.restore_snapshot import restore_snapshot
from drills.recovery.terminate_idle import IdleRule, TerminationResult, terminate_idle
from drills.targets.ports import (
    Database,
    LoadGenerator,
    PodState,
    SnapshotStore,
    Workload,
    WorkloadEvent,
)
from drills.targets.ports.autoscaling import Autoscaler, HpaStatus
from drills.targets.ports.config import ServiceConfig
from drills.targets.ports.rollout import Rollout

__all__ = [
    "ORDERS_TABLE_DDL",
    "AcknowledgedWrite",
    "Autoscaler",
    "AutoscalingSettings",
    "BadRelease",
    "BlastRadius",
    "Condition",
    "ConfigError",
    "CouldNotVerify",
    "DataLossReport",
    "Database",
    "DefaultWaits",
    "DestructiveStatement",
    "Drill",
    "DrillAborted",
    "DrillClock",
    "DrillError",
    "DrillEvents",
    "DrillMarker",
    "DrillRecord",
    "DrillSpec",
    "DryRunHalt",
    "Endpoints",
    "FakeClock",
    "Fault",
    "HpaStatus",
    "IdleRule",
    "InjectionFailed",
    "KillPods",
    "LoadGenerator",
    "Objective",
    "ObjectiveKind",
    "ObjectiveResult",
    "Observation",
    "PodState",
    "PoolExhaustion",
    "PoolSettings",
    "Profile",
    "RecoveryStepMissing",
    "Repointed",
    "RestartWatch",
    "RollbackEntry",
    "RollbackFailed",
    "RollbackLedger",
    "RollbackRegistry",
    "Rollout",
    "RpoBreached",
    "RtoBreached",
    "RunJournal",
    "SafetyViolation",
    "ServiceConfig",
    "SnapshotStore",
    "SteadyStateNotMet",
    "SystemClock",
    "TerminationResult",
    "Verdict",
    "Waited",
    "Workload",
    "WorkloadEvent",
    "WriteLedger",
    "bad_release_image",
    "canonical_payload",
    "compare_ledger",
    "connections_below",
    "connections_refused",
    "crash_looping",
    "desired_replicas",
    "drop_table",
    "endpoints_listed",
    "format_duration",
    "hpa_present",
    "judge_pitr",
    "leak_application_name",
    "load_profile",
    "mass_delete",
    "no_pod_waiting",
    "parse_duration",
    "payload_hash",
    "pitr_summary",
    "promote_replica",
    "recover_to_point",
    "replicas_above",
    "replicas_ready",
    "replicas_settled_at",
    "repoint",
    "resolve_endpoints",
    "restore_snapshot",
    "rollout_complete",
    "sql_reachable",
    "terminate_idle",
    "verify_ledger",
]
