import json

from drills.core.journal import (
    DrillRecord,
    FaultRecord,
    Figure,
    RollbackRecord,
    RunJournal,
    StepOutcome,
    StepRecord,
)
from drills.core.objectives import ObjectiveKind, ObjectiveResult, Verdict
from drills.core.provenance import RunProvenance


def _record() -> DrillRecord:
    return DrillRecord(
        id="pod-kill-under-load",
        runbook="RUNBOOKS.md §3.2",
        service="shop",
        severity="P1",
        verdict=Verdict.FAIL,
        reason="shop RTO breached",
        started_at="2026-01-01T00:00:00+00:00",
        ended_at="2026-01-01T00:00:30+00:00",
        duration_s=30.0,
        objectives=(ObjectiveResult(ObjectiveKind.RTO, "shop", 15.0, 20.0, Verdict.FAIL),),
        steps=(StepRecord("Kill half the pods", "a", "b", StepOutcome.OK, 1.0, 0.2),),
        faults=(FaultRecord("kill-pods", "deployment/shop", "kill 1 of 3", "a", 1.0),),
        rollbacks=(RollbackRecord("abc", "kill-pods", "deployment/shop", "done"),),
        figures=(Figure("user-side outage", 1.5, "s", target=15.0),),
    )


def test_round_trip_is_lossless() -> None:
    journal = RunJournal("run-1", "sandbox", "2026-01-01T00:00:00+00:00", (_record(),))
    assert RunJournal.from_json(journal.to_json()) == journal


def test_json_follows_the_design_contract() -> None:
    data = json.loads(RunJournal("run-1", "sandbox", "t0", (_record(),)).to_json())
    assert set(data) >= {"run_id", "environment", "started_at", "scenarios"}
    scenario = data["scenarios"][0]
    assert set(scenario) >= {"id", "runbook", "verdict", "objectives", "steps", "rollbacks"}
    assert scenario["verdict"] == "FAIL"
    assert scenario["objectives"][0] == {
        "name": "RTO",
        "service": "shop",
        "target_s": 15.0,
        "measured_s": 20.0,
        "verdict": "FAIL",
        "detail": "",
    }
    assert set(scenario["steps"][0]) >= {"name", "started_at", "ended_at", "outcome"}
    assert scenario["steps"][0]["outcome"] == "ok"


_SETTING = {
    "component": "kube-controller-manager",
    "flag": "--horizontal-pod-autoscaler-sync-period",
    "value": "2s",
    "upstream_default": "15s",
    "why": "fast",
}


def test_cluster_settings_round_trip_and_stay_optional() -> None:
    bare = json.loads(RunJournal("run-1", "sandbox", "t0").to_json())
    assert "cluster" not in bare
    cluster = {"kubernetes_version": "v1.37.2", "settings": [_SETTING]}
    journal = RunJournal("run-1", "sandbox", "t0", (_record(),), cluster=cluster)
    again = RunJournal.from_json(journal.to_json())
    assert again.cluster == cluster


def test_provenance_round_trips() -> None:
    provenance = RunProvenance(
        operator="ana",
        approved_by="ben",
        ticket="CHG-1",
        drills_version="0.1.0",
        git_commit="abc",
        git_dirty=False,
        profile_path="fixtures/environments/sandbox.toml",
        profile_sha256="0" * 64,
        kubernetes_version="v1.35.0",
        postgresql_version="16.2",
        locust_version="2.47.0",
        host="runner-1",
    )
    journal = RunJournal("run-1", "sandbox", "t0", (_record(),), provenance=provenance)
    data = json.loads(journal.to_json())
    assert data["provenance"]["operator"] == "ana"
    assert data["provenance"]["git_dirty"] is False
    assert RunJournal.from_json(journal.to_json()) == journal


def test_a_journal_written_before_provenance_still_loads() -> None:
    old = {
        "run_id": "20250101T000000Z",
        "environment": "sandbox",
        "started_at": "2025-01-01T00:00:00+00:00",
        "scenarios": [_record().to_dict()],
    }
    journal = RunJournal.from_json(json.dumps(old))
    assert journal.provenance == RunProvenance()
    assert journal.scenarios == (_record(),)
