"""Redis and Celery behind the `TaskQueue` port; PostgreSQL behind `TaskRecords`.

The queue is Celery's default on Redis: the list `celery` (what `redis-cli LLEN celery` reads);
the shop's worker pushes tasks that failed for good onto `celery:failed` as JSON
(fixtures/shop/worker.py). `purge` runs the real `celery purge -f` against the broker URL, as
the seed's "retry" step has it; only a defect test calls it (RUNBOOKS §5.2).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
import redis

from drills.core.errors import DrillError
from drills.targets.ports.broker import AcceptedTask, CompletedTask, FailedTask

__all__ = ["FAILED_LIST", "QUEUE", "UNACKED", "PostgresTaskRecords", "RedisTaskQueue"]

QUEUE = "celery"
FAILED_LIST = "celery:failed"
UNACKED = "unacked"  # kombu's Redis transport: messages delivered to a worker, not yet acked
_TIMEOUT_S = 2.0


class RedisTaskQueue:
    """The Celery queue on one Redis server."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = redis.Redis.from_url(
            url, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S
        )

    @property
    def address(self) -> str:
        """`host:port` of the broker."""
        kwargs = self.client.connection_pool.connection_kwargs
        return f"{kwargs.get('host')}:{kwargs.get('port')}"

    def ping(self) -> tuple[bool, str]:
        """PING; (False, the error) when the broker does not answer."""
        try:
            return bool(self.client.ping()), "PONG"
        except redis.RedisError as exc:
            return False, f"{type(exc).__name__}: {exc}"

    def depth(self) -> int:
        """LLEN celery; DrillError when the broker does not answer."""
        return int(self._call("LLEN celery", lambda: self.client.llen(QUEUE)))

    def failed(self) -> list[FailedTask]:
        """LRANGE celery:failed 0 -1, decoded (an entry that is not JSON is kept as its text)."""
        raw = self._call("LRANGE celery:failed", lambda: self.client.lrange(FAILED_LIST, 0, -1))
        return [_failed(entry) for entry in raw]

    def unacknowledged(self) -> list[str]:
        """The task ids in kombu's `unacked` hash (delivery tag -> [message, exchange, key])."""
        raw = self._call("HVALS unacked", lambda: self.client.hvals(UNACKED))
        found = []
        for entry in raw:
            try:
                message = json.loads(entry)[0]
                found.append(str(message["headers"]["id"]))
            except (ValueError, KeyError, IndexError, TypeError):
                continue
        return found

    def purge(self) -> str:
        """`celery -b URL purge -f -Q celery`; what it printed."""
        argv = [sys.executable, "-m", "celery", "-b", self.url, "purge", "-f", "-Q", QUEUE]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise DrillError(f"celery purge failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout.strip() or done.stderr.strip()

    def remove_failed(self, order_keys: Sequence[str]) -> int:
        """LREM celery:failed of the entries naming these orders (the poison fault's rollback)."""
        keys = set(order_keys)
        raw = self._call("LRANGE celery:failed", lambda: self.client.lrange(FAILED_LIST, 0, -1))
        gone = 0
        for entry in raw:
            if _failed(entry).order_key in keys:
                gone += int(self._call("LREM", lambda e=entry: self.client.lrem(FAILED_LIST, 0, e)))
        return gone

    def _call(self, what: str, action: Any) -> Any:
        try:
            return action()
        except redis.RedisError as exc:
            raise DrillError(f"redis {self.address}: {what} failed: {exc}") from exc


def _failed(entry: bytes) -> FailedTask:
    text = entry.decode(errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return FailedTask(task_id="", order_key="", error=text, attempts=0)
    return FailedTask(
        task_id=str(data.get("task_id", "")),
        order_key=str(data.get("order_key", "")),
        error=str(data.get("error", "")),
        attempts=int(data.get("attempts", 0)),
    )


class PostgresTaskRecords:
    """The shop's `task_outbox` and the workers' `task_results` (either may not exist yet)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def _rows(self, sql: str, params: tuple[Any, ...], table: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(
            self.dsn, autocommit=True, application_name="drills-tasks", connect_timeout=5
        ) as conn:
            found = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
            if found is None or found[0] is None:
                return []
            return list(conn.execute(sql, params).fetchall())

    def now(self) -> str:
        """The server's clock_timestamp()."""
        with psycopg.connect(self.dsn, autocommit=True, application_name="drills-tasks") as conn:
            row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        return str(row[0].isoformat())

    def accepted_since(self, since: str) -> list[AcceptedTask]:
        """Outbox rows created at or after `since`."""
        rows = self._rows(
            "SELECT task_id, order_key, sent_at IS NOT NULL FROM task_outbox "
            "WHERE created_at >= %s::timestamptz ORDER BY created_at",
            (since,),
            "task_outbox",
        )
        return [AcceptedTask(str(t), str(k), bool(s)) for t, k, s in rows]

    def completed(self, task_ids: Iterable[str]) -> Mapping[str, CompletedTask]:
        """task_results rows of `task_ids`."""
        wanted = sorted(set(task_ids))
        if not wanted:
            return {}
        rows = self._rows(
            "SELECT task_id, order_key, attempts, deliveries FROM task_results "
            "WHERE task_id = ANY(%s)",
            (wanted,),
            "task_results",
        )
        return {str(t): CompletedTask(str(t), str(k), int(a), int(d)) for t, k, a, d in rows}
