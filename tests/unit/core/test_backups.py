"""The backup rules of RUNBOOKS.md §3.8: retention, freshness, job health, clean-up, dumps."""

from __future__ import annotations

import pytest

from drills.core.backups import (
    DAY_S,
    BackupObject,
    JobRun,
    cleanup_by_age,
    dump_complete,
    judge_freshness,
    judge_job_health,
    judge_retention,
    schedule_gap_s,
    seed_cleanup,
)

RPO_S = 900.0


def _backup(key: str, age_s: float) -> BackupObject:
    return BackupObject(key=key, age_s=age_s, size_bytes=100)


def test_retention_must_be_seven() -> None:
    assert judge_retention(7) is None
    assert "below the 7" in str(judge_retention(3))
    assert "expects 7" in str(judge_retention(14))
    assert "no BackupRetentionPeriod" in str(judge_retention(None))


@pytest.mark.parametrize(
    ("schedule", "gap_s"),
    [
        ("* * * * *", 60.0),
        ("*/5 * * * *", 300.0),
        ("*/7 * * * *", 420.0),  # 0..56, then 56 -> 60+0: 4 min, the steps are longer
        ("0,30 * * * *", 1800.0),
        ("15 * * * *", 3600.0),
        ("0 3 * * *", DAY_S),
        ("0 3 * * 1", None),
        ("nonsense", None),
    ],
)
def test_schedule_gap(schedule: str, gap_s: float | None) -> None:
    assert schedule_gap_s(schedule) == gap_s


def test_freshness_names_what_rules_the_backup_out() -> None:
    assert judge_freshness(30.0, RPO_S, "* * * * *", suspended=False) is None
    assert "suspended" in str(judge_freshness(30.0, RPO_S, "* * * * *", suspended=True))
    assert "runs every 1.0 d" in str(judge_freshness(30.0, RPO_S, "0 3 * * *", suspended=False))
    assert "older than the RPO" in str(judge_freshness(901.0, RPO_S, "* * * * *", suspended=False))
    assert "no backup" in str(judge_freshness(None, RPO_S, "* * * * *", suspended=False))


def test_job_health_reads_the_last_scheduled_job() -> None:
    ok = JobRun("b-1", scheduled=True, age_s=10.0, succeeded=1, failed=0)
    failed = JobRun("b-2", scheduled=True, age_s=5.0, succeeded=0, failed=1)
    manual = JobRun("b-m", scheduled=False, age_s=1.0, succeeded=1, failed=0)
    assert judge_job_health([ok, manual], suspended=False) is None
    assert "b-2 failed" in str(judge_job_health([ok, failed, manual], suspended=False))
    assert "no Job on its schedule" in str(judge_job_health([manual], suspended=False))
    assert "suspended" in str(judge_job_health([ok], suspended=True))


def test_cleanup_by_age_keeps_thirty_days_where_the_seed_keeps_thirty_objects() -> None:
    found = [_backup(f"k{i}", i * DAY_S / 2) for i in range(70)]  # every 12 h for 35 days
    doomed, kept = cleanup_by_age(found)
    assert all(b.age_s > 30 * DAY_S for b in doomed)
    assert all(b.age_s <= 30 * DAY_S for b in kept)
    assert len(doomed) + len(kept) == 70
    seed = seed_cleanup(found)
    assert len(seed) == 40
    assert any(b.age_s < 30 * DAY_S for b in seed)  # the count-based form loses young backups


def test_a_dump_without_its_closing_line_is_incomplete() -> None:
    assert dump_complete(b"CREATE TABLE t();\n--\n-- PostgreSQL database dump complete\n--\n")
    assert not dump_complete(b"CREATE TABLE t();\nCOPY t FROM stdin;\n1\t")
