"""The generic user: the locustfile the harness runs when a service lists journeys, not a file.

`fixtures/load.py`'s `traffic` starts Locust on this file with the service's
`[[services.<name>.journeys]]` as JSON in `DRILLS_JOURNEYS` (drills.core.journeys). Each journey
becomes one task of `JourneyUser`, weighted by its `weight`:

- `{key}` is a fresh uuid4 hex per request, `{n}` a counter of this process;
- a journey with `ack = true` declares its request an acknowledged write of `{key}`
  (`ack_context`, by key alone: the hash is `KEY_ONLY`, the ledger then checks presence);
- a journey with `read_of` reads back one of the keys this user saw that journey acknowledge
  (`read_context`); a 404 is a lost write, reported once, then the key is forgotten. Before the
  first acknowledgement there is nothing to read back, and the task makes no request;
- a status outside `expect` (default any 2xx) fails the request, with what was expected.

Locust loads it by path, in a Locust process only: the harness never imports it.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from collections.abc import Callable

from locust import HttpUser, events
from locust.clients import ResponseContextManager

from drills.core.journeys import AcknowledgedKeys, Journey, journeys_from_json
from drills.core.services import KEY_ONLY
from drills.load.acknowledge import ack_context, read_context
from drills.load.pacing import JOURNEYS_ENV
from drills.locustfile import TIMEOUT, DrillsShape, setup, think_time

__all__ = ["DrillsShape", "JourneyUser"]  # what Locust looks for among this file's names

setup(events)
if not os.environ.get(JOURNEYS_ENV):
    raise SystemExit(
        f"{JOURNEYS_ENV} is not set: the harness passes the profile's journeys there; run this "
        "file through `drills run` for a service with [[services.<name>.journeys]]"
    )
JOURNEYS = journeys_from_json(os.environ[JOURNEYS_ENV])
_COUNTER = itertools.count(1)
_JSON = {"Content-Type": "application/json"}


def _expected(journey: Journey) -> str:
    return ", ".join(map(str, journey.expect)) if journey.expect else "a 2xx"


class JourneyUser(HttpUser):
    """One user doing the profile's journeys, each as often as its weight says."""

    wait_time = think_time()

    def on_start(self) -> None:
        """Each user remembers the keys it saw acknowledged, per journey."""
        self.acknowledged = AcknowledgedKeys()

    def journey(self, journey: Journey) -> None:
        """One request of `journey`, judged by its status (module docstring)."""
        if journey.read_of is not None:
            key = self.acknowledged.pick(journey.read_of, random.randrange(1 << 30))
            if key is None:
                return  # nothing acknowledged yet to read back
            context = read_context(key)
        else:
            key = uuid.uuid4().hex
            context = ack_context(key, KEY_ONLY) if journey.ack else {}
        path, body = journey.request(key, next(_COUNTER))
        with self.client.request(
            journey.method,
            path,
            data=body,
            headers=_JSON if body is not None else None,
            name=journey.path,
            catch_response=True,
            context=context,
            timeout=TIMEOUT,
        ) as response:
            self._judge(journey, key, response)

    def _judge(self, journey: Journey, key: str, response: ResponseContextManager) -> None:
        status = int(response.status_code or 0)
        if journey.succeeded(status):
            response.success()  # type: ignore[no-untyped-call]
            if journey.ack:
                self.acknowledged.add(journey.name, key)
        elif journey.read_of is not None and status == 404:
            self.acknowledged.forget(journey.read_of, key)
            response.failure(  # type: ignore[no-untyped-call]
                f"key {key} acknowledged by {journey.read_of!r} not found (404): a lost write"
            )
        else:
            error = response.error or ""
            response.failure(  # type: ignore[no-untyped-call]
                f"status {status}, expected {_expected(journey)}: {error}".rstrip(": ")
            )


def _task(journey: Journey) -> Callable[[JourneyUser], None]:
    def journey_task(user: JourneyUser) -> None:
        user.journey(journey)

    journey_task.__name__ = journey.name
    return journey_task


JourneyUser.tasks = [task for j in JOURNEYS for task in [_task(j)] * j.weight]  # weighted
