"""The task ledger of worker-queue-backlog: every accepted task needs an outcome."""

from __future__ import annotations

from drills.core.tasks import account_tasks, backlog_alert, describe_lost


def test_an_accepted_task_without_an_outcome_is_lost() -> None:
    account = account_tasks(
        [("t1", "o1", True), ("t2", "o2", True), ("t3", "o3", False), ("t4", "o4", True)],
        {"t1": 1, "t4": 2},
        [("t2", "poison")],
    )
    assert account.lost == [("t3", "o3")]
    assert not account.settled
    assert account.unsent == frozenset({"t3"})
    assert account.duplicated == {"t4": 2}
    assert describe_lost(account) == "t3 (order o3)"
    assert account.describe() == (
        "4 accepted, 2 completed, 1 failed (celery:failed), 1 not yet sent to the broker, "
        "1 without an outcome, 1 completed more than once"
    )


def test_a_ledger_where_every_task_completed_or_failed_is_settled() -> None:
    account = account_tasks([("t1", "o1", True), ("t2", "o2", True)], {"t1": 1}, [("t2", "x")])
    assert account.settled
    assert account.lost == []
    assert describe_lost(account) == ""


def test_completions_of_other_runs_do_not_count() -> None:
    account = account_tasks([("t1", "o1", True)], {"old": 1}, [("older", "x")])
    assert account.lost == [("t1", "o1")]


def test_the_reason_names_the_first_lost_tasks_and_counts_the_rest() -> None:
    rows = [(f"t{i}", f"o{i}", True) for i in range(12)]
    said = describe_lost(account_tasks(rows, {}, []), shown=2)
    assert said == "t0 (order o0), t1 (order o1) and 10 more"


def test_the_backlog_alert_fires_at_the_rise_over_the_baseline() -> None:
    assert not backlog_alert(26, 2, 25)
    assert backlog_alert(27, 2, 25)
