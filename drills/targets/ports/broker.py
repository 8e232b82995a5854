"""The task queue and its ledger as the worker-queue-backlog drill sees them (RUNBOOKS §3.16).

`TaskQueue` is the broker side (the runbook's `redis-cli` and `celery` commands);
`TaskRecords` is the database side: which tasks the shop accepted (its outbox, written in the
order's own transaction) and which the workers completed (`task_results`, one row per task id,
`deliveries` counting repeats). `drills.core.tasks` judges the two together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["AcceptedTask", "CompletedTask", "FailedTask", "TaskQueue", "TaskRecords"]


@dataclass(frozen=True)
class FailedTask:
    """One entry of `celery:failed`: a task that failed after its retries."""

    task_id: str
    order_key: str
    error: str
    attempts: int


@dataclass(frozen=True)
class AcceptedTask:
    """A task the shop accepted with its order (outbox row); `sent` once the broker took it."""

    task_id: str
    order_key: str
    sent: bool


@dataclass(frozen=True)
class CompletedTask:
    """A task a worker completed; `deliveries` > 1 is a duplicate."""

    task_id: str
    order_key: str
    attempts: int
    deliveries: int


class TaskQueue(Protocol):
    """The broker's queue of pending tasks and its list of failed ones."""

    @property
    def address(self) -> str:
        """Where the broker answers (for the report: `redis-cli -h ... -p ...`)."""
        ...

    def ping(self) -> tuple[bool, str]:
        """`redis-cli PING`: whether the broker answers, and what it said."""
        ...

    def depth(self) -> int:
        """`redis-cli LLEN celery`: tasks waiting in the queue."""
        ...

    def failed(self) -> list[FailedTask]:
        """`redis-cli LRANGE celery:failed 0 -1`: the failed tasks (read only)."""
        ...

    def unacknowledged(self) -> list[str]:
        """Task ids a worker took from the queue and has not acknowledged (Redis: `unacked`)."""
        ...

    def purge(self) -> str:
        """`celery purge -f`: delete every waiting task (the seed's hazardous "retry")."""
        ...

    def remove_failed(self, order_keys: Sequence[str]) -> int:
        """Remove the failed entries of these orders' tasks; how many went."""
        ...


class TaskRecords(Protocol):
    """The shop's outbox and the workers' results in the orders database."""

    def now(self) -> str:
        """The database's clock (ISO 8601): accepted tasks are counted from a reading of it."""
        ...

    def accepted_since(self, since: str) -> list[AcceptedTask]:
        """Tasks the shop accepted from `since` on."""
        ...

    def completed(self, task_ids: Iterable[str]) -> Mapping[str, CompletedTask]:
        """The completions recorded for `task_ids`, by task id."""
        ...
