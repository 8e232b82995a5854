"""The disk-full drill's pure parts: which files a cleanup may take, and usage over time."""

from __future__ import annotations

from drills.core.disk import (
    DAY_S,
    CleanupRule,
    CleanupScope,
    FileEntry,
    UsageSeries,
    judge_cleanup,
    parse_write_errors,
    removable,
)

NOW = 1_800_000_000.0
SCOPE = CleanupScope(temp_glob="tmp/*", ballast="ballast.img")


def _file(path: str, days: float, sha: str | None = "s") -> FileEntry:
    return FileEntry(path, 1024, NOW - days * DAY_S, sha)


FOUND = [
    _file("archive/a.day-10.log", 10),
    _file("archive/a.day-3.log", 3),
    _file("archive/a.day-0.log", 0.1),
    _file("tmp/export.tmp", 1),
    _file("state/cursor.json", 10),
    _file("ballast.img", 0, sha=None),
    _file("shop-1.log", 0),
]


def _paths(entries: list[FileEntry]) -> list[str]:
    return sorted(e.path for e in entries)


def test_the_runbook_rule_takes_old_logs_temp_files_and_the_ballast_only() -> None:
    chosen = removable(FOUND, now_wall=NOW, rule=CleanupRule.RUNBOOK, scope=SCOPE)
    assert _paths(chosen) == ["archive/a.day-10.log", "ballast.img", "tmp/export.tmp"]


def test_the_defect_rule_also_takes_a_log_three_days_old() -> None:
    chosen = removable(FOUND, now_wall=NOW, rule=CleanupRule.FRESH_LOGS, scope=SCOPE)
    assert "archive/a.day-3.log" in _paths(chosen)
    assert "archive/a.day-0.log" not in _paths(chosen)


def test_a_cleanup_by_the_rule_is_judged_clean() -> None:
    taken = {"archive/a.day-10.log", "ballast.img", "tmp/export.tmp"}
    after = {e.path: e for e in FOUND if e.path not in taken}
    assert judge_cleanup(FOUND, after, now_wall=NOW, scope=SCOPE) == []


def test_a_fresh_log_taken_is_named_with_its_age() -> None:
    after = {e.path: e for e in FOUND if e.path != "archive/a.day-3.log"}
    [wrong] = judge_cleanup(FOUND, after, now_wall=NOW, scope=SCOPE)
    assert wrong.startswith("removed archive/a.day-3.log (3.0 days old, 1 KiB)")
    assert "a log younger than 7 days" in wrong


def test_an_old_file_that_is_not_a_log_must_stay() -> None:
    after = {e.path: e for e in FOUND if e.path != "state/cursor.json"}
    [wrong] = judge_cleanup(FOUND, after, now_wall=NOW, scope=SCOPE)
    assert "state/cursor.json (10.0 days old" in wrong
    assert "neither a log older than 7 days" in wrong


def test_a_kept_file_whose_content_changed_is_named_but_live_logs_may_change() -> None:
    after = {e.path: e for e in FOUND}
    after["archive/a.day-0.log"] = _file("archive/a.day-0.log", 0.1, sha="other")
    after["shop-1.log"] = _file("shop-1.log", 0, sha="grown")
    wrong = judge_cleanup(FOUND, after, now_wall=NOW, scope=SCOPE, live=["shop-1.log"])
    assert wrong == [
        "altered archive/a.day-0.log (0.1 days old, 1 KiB): its content changed",
    ]


def test_usage_over_time() -> None:
    series = UsageSeries([(0.0, 0.2), (1.0, 0.95), (2.0, 0.97), (3.0, 0.5), (4.0, 0.5)])
    assert series.peak() == 0.97
    assert series.first_above(0.9, since_s=0.0) == 1.0
    assert series.time_above(0.9, since_s=0.0) == 2.0
    assert series.back_under(0.8, since_s=0.0) == 3.0
    assert UsageSeries([(0.0, 0.85)]).back_under(0.8, since_s=0.0) is None


def test_readings_from_two_threads_are_read_in_time_order() -> None:
    series = UsageSeries([(2.0, 0.5), (1.0, 0.95), (0.0, 0.2)])
    assert series.back_under(0.8, since_s=0.0) == 2.0


def test_the_shops_last_report_carries_its_total() -> None:
    log = (
        "2026-12-05 shop ERROR access log write failed (1 so far): [Errno 28] No space left\n"
        "2026-12-05 shop INFO clients over 2.0 s: ...\n"
        "2026-12-05 shop ERROR access log write failed (57 so far): [Errno 28] No space left\n"
    )
    assert parse_write_errors(log) == 57
    assert parse_write_errors("nothing here") == 0
