"""The task ledger of the worker-queue-backlog drill (RUNBOOKS.md §3.16): what became of each task.

The shop writes a task's row into its outbox in the order's own transaction, so every order it
acknowledged has exactly one accepted task. After the drill every accepted task must have an
outcome: completed (a row in `task_results`), or failed for good (an entry of `celery:failed`,
where the runbook's step 5 reads it). An accepted task with neither is lost: the customer never
gets the confirmation, and nothing left in the system will send it. Duplicates (a task completed
more than once, `deliveries` > 1) are counted and reported; at-least-once delivery allows them,
the report shows how many.

Pure: the drill reads the queue and the database through `drills.targets.ports.broker`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["TaskAccount", "account_tasks", "backlog_alert", "describe_lost"]

SHOWN = 10  # task ids a reason names before "and N more"


@dataclass(frozen=True)
class TaskAccount:
    """Accepted tasks against their outcomes (ids throughout; order keys for the report)."""

    accepted: Mapping[str, str]  # task id -> order key
    unsent: frozenset[str]  # accepted, still in the outbox (the broker never took them)
    completed: Mapping[str, int]  # task id -> deliveries
    failed: Mapping[str, str]  # task id -> the error it failed with

    @property
    def lost(self) -> list[tuple[str, str]]:
        """(task id, order key) of every accepted task with no outcome, in acceptance order."""
        return [
            (task, key)
            for task, key in self.accepted.items()
            if task not in self.completed and task not in self.failed
        ]

    @property
    def duplicated(self) -> dict[str, int]:
        """Task id -> deliveries, for the tasks completed more than once."""
        return {task: n for task, n in self.completed.items() if n > 1}

    @property
    def settled(self) -> bool:
        """Every accepted task has an outcome."""
        return not self.lost

    def describe(self) -> str:
        """One line: accepted, completed, failed, still unsent, lost, duplicated."""
        completed = sum(1 for t in self.accepted if t in self.completed)
        failed = sum(1 for t in self.accepted if t in self.failed)
        return (
            f"{len(self.accepted)} accepted, {completed} completed, {failed} failed "
            f"(celery:failed), {len(self.unsent)} not yet sent to the broker, "
            f"{len(self.lost)} without an outcome, {len(self.duplicated)} completed more "
            "than once"
        )


def account_tasks(
    accepted: Iterable[tuple[str, str, bool]],
    completed: Mapping[str, int],
    failed: Iterable[tuple[str, str]],
) -> TaskAccount:
    """The account of `accepted` (task id, order key, sent) against completions and failures."""
    rows = list(accepted)
    return TaskAccount(
        accepted={task: key for task, key, _ in rows},
        unsent=frozenset(task for task, _, sent in rows if not sent),
        completed=dict(completed),
        failed=dict(failed),
    )


def describe_lost(account: TaskAccount, *, shown: int = SHOWN) -> str:
    """The lost tasks by id and order key, the first `shown` of them, for a FAIL's reason."""
    lost: Sequence[tuple[str, str]] = account.lost
    named = ", ".join(f"{task} (order {key})" for task, key in lost[:shown])
    more = f" and {len(lost) - shown} more" if len(lost) > shown else ""
    return f"{named}{more}"


def backlog_alert(depth: int, baseline: int, rise: int) -> bool:
    """The drill's alert: the queue holds `rise` tasks more than before the fault."""
    return depth >= baseline + rise
