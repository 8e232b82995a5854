"""What a team's locustfile imports to run under the harness: stream, shape, pacing.

A locustfile run by `drills run` must stream every request to the harness, follow the drill's
load shape, stop in order on SIGTERM, and use the profile's think time and request timeouts.
This module does all of it, so a team's file is its users and nothing else::

    from locust import HttpUser, events, task

    from drills.load.acknowledge import ack_context, read_context
    from drills.locustfile import TIMEOUT, DrillsShape, setup, think_time

    setup(events)
    __all__ = ["DrillsShape", "NotesUser"]  # Locust finds users and the shape among these names


    class NotesUser(HttpUser):
        wait_time = think_time()

        @task
        def write(self) -> None:
            key = uuid.uuid4().hex
            self.client.put(f"/notes/{key}", json=..., context=ack_context(key, digest),
                            timeout=TIMEOUT)

- `setup(events)`: installs the request stream (`DRILLS_STREAM_ADDR`) and the orderly SIGTERM
  (drills.targets.adapters.locust_stream); once per process, however often it is called.
- `TIMEOUT`: the (connect, read) seconds every request passes as `timeout=` (Locust's
  HttpSession has none of its own); `think_time()`: the wait between a user's tasks. Both come
  from the environment the harness sets (drills.load.pacing).
- `DrillsShape`: the LoadTestShape following `DRILLS_LOAD_SHAPE`, or None without one (plain
  Locust then uses its command line). Import it into the locustfile: Locust looks for shapes
  among the locustfile's own names.

It imports Locust (and gevent): only a Locust process may import it, never the harness or a
test process (gevent's patching there ends in RecursionError). Its pure parts are
drills.load.pacing and drills.load.shapes. It sits outside the layers below it (like the CLI)
because it is the Locust process's edge, where the Locust-side adapter and the shapes meet.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from locust import LoadTestShape, User, between
from locust.event import Events

from drills.load.pacing import think_time_s, timeouts_s
from drills.load.shapes import shape_from_json
from drills.targets.adapters import locust_stream

__all__ = ["TIMEOUT", "DrillsShape", "setup", "think_time"]

TIMEOUT = timeouts_s(os.environ)
_installed: list[Events] = []


def setup(events: Events) -> None:
    """Stream every request to the harness and end a shape run in order on SIGTERM (once)."""
    if any(done is events for done in _installed):
        return
    _installed.append(events)
    locust_stream.install(events)
    locust_stream.stop_shape_on_sigterm(events)


def think_time() -> Callable[[User], float]:
    """A `wait_time` for a User class: uniform between the harness's low and high seconds."""
    low, high = think_time_s(os.environ)
    return between(low, high)


def _shape_class() -> type[LoadTestShape] | None:
    raw = os.environ.get("DRILLS_LOAD_SHAPE")
    if not raw:
        return None
    shape = shape_from_json(raw)

    class DrillsShape(LoadTestShape):
        """Follows the harness's shape (steady, steps or spike) tick by tick."""

        def tick(self) -> tuple[int, float] | None:
            """Users and spawn rate for now, or None to stop."""
            stage = shape.tick(self.get_run_time())  # type: ignore[no-untyped-call]
            return None if stage is None else (stage.users, stage.spawn_rate)

    return DrillsShape


DrillsShape = _shape_class()
