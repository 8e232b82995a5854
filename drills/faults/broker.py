"""The broker-down fault of worker-queue-backlog (RUNBOOKS.md §3.16): the task broker stops.

The sandbox's broker is a Redis without persistence (`drills.sandbox.redis`), so a stop loses
what was queued, as such a Redis does; the shop's outbox is what must save the tasks. The
rollback starts it again on the same address (the workers and the shop reconnect there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from drills.core.errors import InjectionFailed
from drills.core.safety import JsonScalar, RollbackEntry

__all__ = [
    "BROKER_STOPPED",
    "POISON_TASKS",
    "BrokerServer",
    "FailedList",
    "PoisonOrders",
    "StopBroker",
]

BROKER_STOPPED = "broker-stopped"
POISON_TASKS = "poison-tasks"


class BrokerServer(Protocol):
    """A broker process the harness may stop and start (the sandbox's Redis)."""

    def running(self) -> bool:
        """True while its process lives."""
        ...

    def stop(self) -> None:
        """Stop it and wait until its process is gone."""
        ...

    def start(self) -> str:
        """Start it on its last address and wait until it answers; its URL."""
        ...


@dataclass
class StopBroker:
    """Stop the broker; its rollback starts it again on the same address.

    `where` is what a replay by `drills rollback` needs to find the server (its state directory
    and listen address).
    """

    server: BrokerServer
    where: Mapping[str, JsonScalar] = field(default_factory=dict)
    name: str = "redis"
    kind: str = BROKER_STOPPED

    @property
    def target(self) -> str:
        """The broker stopped."""
        return f"broker/{self.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"stop the task broker {self.target} (Redis, no persistence: its queue goes)"

    def rollback_entry(self) -> RollbackEntry:
        """Start it again where it was."""
        return RollbackEntry(self.kind, self.target, dict(self.where))

    def apply(self) -> None:
        """Stop it; a broker that was not running, or still runs, is no fault."""
        if not self.server.running():
            raise InjectionFailed(f"{self.target} is not running: there is nothing to stop")
        self.server.stop()
        if self.server.running():
            raise InjectionFailed(f"{self.target} still runs after the stop")

    def rollback(self) -> None:
        """Start it again unless the recovery did; idempotent."""
        if not self.server.running():
            self.server.start()


class FailedList(Protocol):
    """The broker's list of failed tasks, as far as a rollback needs it."""

    def remove_failed(self, order_keys: Sequence[str]) -> int:
        """Remove the entries of these orders' tasks; how many went."""
        ...


@dataclass
class PoisonOrders:
    """Place orders whose confirmation task always fails (the poison fault, RUNBOOKS §3.16).

    `place` sends the orders through the shop (users' own path) and returns their task ids. The
    orders stay, as any order does; the rollback removes their entries from `celery:failed`, so
    the list is as the drill found it.
    """

    place: Callable[[Sequence[str]], list[str]]
    failed_list: FailedList
    order_keys: Sequence[str]
    where: Mapping[str, JsonScalar] = field(default_factory=dict)
    kind: str = POISON_TASKS
    task_ids: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        """The queue the poison goes to."""
        return "broker/redis/celery"

    def describe(self) -> str:
        """One line for the plan."""
        return f"place {len(self.order_keys)} orders whose confirmation task always fails"

    def rollback_entry(self) -> RollbackEntry:
        """Remove these orders' entries from celery:failed."""
        args: dict[str, JsonScalar] = {**self.where, "order_keys": ",".join(self.order_keys)}
        return RollbackEntry(self.kind, self.target, args)

    def apply(self) -> None:
        """Place the orders; every one must be accepted with a task."""
        self.task_ids = self.place(self.order_keys)
        if len(self.task_ids) != len(self.order_keys):
            raise InjectionFailed(
                f"the shop accepted {len(self.task_ids)} of {len(self.order_keys)} poison orders "
                "with a task"
            )

    def rollback(self) -> None:
        """Remove their failed entries (none left is fine); idempotent."""
        self.failed_list.remove_failed(self.order_keys)
