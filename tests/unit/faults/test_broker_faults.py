"""The broker-down and poison faults of worker-queue-backlog: rollback data first, idempotent."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from drills.core.errors import InjectionFailed
from drills.faults.broker import BROKER_STOPPED, POISON_TASKS, PoisonOrders, StopBroker


class FakeBroker:
    def __init__(self, *, running: bool = True, survives: bool = False) -> None:
        self.up, self.survives, self.starts = running, survives, 0

    def running(self) -> bool:
        return self.up

    def stop(self) -> None:
        self.up = self.survives

    def start(self) -> str:
        self.up, self.starts = True, self.starts + 1
        return "redis://10.0.0.1:7000/0"


class FakeFailed:
    def __init__(self) -> None:
        self.removed: list[str] = []

    def remove_failed(self, order_keys: Sequence[str]) -> int:
        self.removed.extend(order_keys)
        return len(order_keys)


def test_stop_broker_records_where_to_start_it_then_stops_it() -> None:
    broker = FakeBroker()
    fault = StopBroker(broker, {"root": "/s/redis", "host": "10.0.0.1"})
    entry = fault.rollback_entry()
    assert (entry.kind, entry.target) == (BROKER_STOPPED, "broker/redis")
    assert dict(entry.args) == {"root": "/s/redis", "host": "10.0.0.1"}
    fault.apply()
    assert not broker.running()
    fault.rollback()
    fault.rollback()
    assert broker.starts == 1


def test_stop_broker_refuses_a_broker_that_is_not_running_or_survives() -> None:
    with pytest.raises(InjectionFailed, match="not running"):
        StopBroker(FakeBroker(running=False)).apply()
    with pytest.raises(InjectionFailed, match="still runs"):
        StopBroker(FakeBroker(survives=True)).apply()


def test_poison_orders_record_their_keys_and_need_every_order_accepted() -> None:
    failed = FakeFailed()
    fault = PoisonOrders(lambda keys: [f"task-{k}" for k in keys], failed, ["p1", "p2"])
    entry = fault.rollback_entry()
    assert (entry.kind, entry.args["order_keys"]) == (POISON_TASKS, "p1,p2")
    fault.apply()
    assert fault.task_ids == ["task-p1", "task-p2"]
    fault.rollback()
    assert failed.removed == ["p1", "p2"]
    short = PoisonOrders(lambda keys: ["only-one"], failed, ["p1", "p2"])
    with pytest.raises(InjectionFailed, match="accepted 1 of 2"):
        short.apply()
