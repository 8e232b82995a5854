"""`drills rollback` for the worker-queue-backlog drill's broker-down fault (RUNBOOKS §3.16).

Registered through the `drills.rollbacks` entry point `broker`. `broker-stopped` records the
sandbox Redis's state directory and listen address; the replay starts it there again (same
port). `poison-tasks` records the broker URL and the poison orders' keys; the replay removes
their entries from `celery:failed`.
"""

from __future__ import annotations

from pathlib import Path

from drills.core.errors import ConfigError
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.faults.broker import BROKER_STOPPED, POISON_TASKS
from drills.sandbox.redis import LocalRedis
from drills.targets.adapters.redis_broker import RedisTaskQueue

__all__ = ["register_rollbacks", "remove_poison", "start_stopped_broker"]


def start_stopped_broker(entry: RollbackEntry) -> Replayed:
    """Start the recorded Redis again unless it runs."""
    root, host = str(entry.args.get("root") or ""), str(entry.args.get("host") or "")
    if not root or not host:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no root and host")
    server = LocalRedis(Path(root), host=host)
    if server.running():
        return Replayed.ALREADY
    server.start()
    return Replayed.RESTORED


def remove_poison(entry: RollbackEntry) -> Replayed:
    """Remove the recorded poison orders' entries from celery:failed."""
    url = str(entry.args.get("broker_url") or "")
    keys = [k for k in str(entry.args.get("order_keys") or "").split(",") if k]
    if not url:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no broker_url")
    gone = RedisTaskQueue(url).remove_failed(keys)
    return Replayed.RESTORED if gone else Replayed.ALREADY


def register_rollbacks(registry: RollbackRegistry) -> None:
    """Register `broker-stopped` and `poison-tasks`."""
    registry.register(BROKER_STOPPED, start_stopped_broker)
    registry.register(POISON_TASKS, remove_poison)
