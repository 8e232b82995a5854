"""The lag judged at a replica's promotion (drills.recovery.replica)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drills.core.dataloss import AcknowledgedWrite
from drills.core.objectives import Objective, ObjectiveKind
from drills.recovery.replica import lag_at_promotion, lag_breach, newest_before

RPO = Objective(ObjectiveKind.RPO, "database", 4.0)
KILLED = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)


def _write(key: str, at_s: float) -> AcknowledgedWrite:
    return AcknowledgedWrite(key=key, at_s=at_s, payload_hash="h")


def test_the_newest_write_counts_only_before_the_kill() -> None:
    writes = [_write("a", 10.0), _write("b", 12.5), _write("c", 14.0)]
    assert newest_before(writes, 13.0) == 12.5
    assert newest_before(writes, 5.0) is None


def test_a_caught_up_replica_has_no_lag_whatever_the_runbook_query_reads() -> None:
    replayed = (KILLED - timedelta(milliseconds=20)).isoformat().replace("+00:00", "Z")
    lag = lag_at_promotion(
        newest_ack=KILLED,
        last_replay_iso=replayed,
        replica_since=KILLED - timedelta(seconds=30),
        runbook_lag_s=41.0,  # the primary died 41 s ago: the query grows, the data does not
    )
    assert lag.lag_s < 0.1
    assert "41.0 s (grows with the time since the primary died)" in lag.detail
    assert lag_breach(lag, RPO) == ""


def test_a_replica_behind_the_rpo_breaches_it_with_the_lag_named() -> None:
    replayed = (KILLED - timedelta(seconds=9)).isoformat()
    lag = lag_at_promotion(
        newest_ack=KILLED,
        last_replay_iso=replayed,
        replica_since=KILLED - timedelta(seconds=30),
        runbook_lag_s=12.0,
    )
    assert abs(lag.lag_s - 9.0) < 1e-6
    reason = lag_breach(lag, RPO)
    assert reason.startswith("replication lag at promotion 9.0 s exceeds the database RPO 4 s")


def test_a_replica_that_replayed_nothing_is_as_old_as_its_base_backup() -> None:
    lag = lag_at_promotion(
        newest_ack=KILLED,
        last_replay_iso=None,
        replica_since=KILLED - timedelta(seconds=8),
        runbook_lag_s=None,
    )
    assert abs(lag.lag_s - 8.0) < 1e-6
    assert "no transaction replayed since it started" in lag.detail
    assert "read NULL" in lag.detail


def test_a_write_acknowledged_after_its_replayed_commit_is_not_a_negative_lag() -> None:
    lag = lag_at_promotion(
        newest_ack=KILLED,
        last_replay_iso=(KILLED + timedelta(milliseconds=3)).isoformat(),
        replica_since=KILLED,
        runbook_lag_s=0.5,
    )
    assert lag.lag_s == 0.0
