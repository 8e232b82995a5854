"""Journeys: the user traffic a profile lists when the service has no locustfile of its own.

A team that has not written a locustfile describes what its users do in the profile::

    [[services.notes.journeys]]
    name = "write a note"
    method = "PUT"
    path = "/notes/{key}"           # {key}: a fresh uuid4 hex per request
    body = '{"text": "drill {n}"}'  # optional JSON template ({key}; {n}: a counter)
    weight = 2
    expect = [200, 201]             # the statuses that count as success (default: any 2xx)
    ack = true                      # a success here is an acknowledged write of key {key}

    [[services.notes.journeys]]
    name = "read a note back"
    path = "/notes/{key}"
    read_of = "write a note"        # {key}: one the user saw acknowledged; 404 = a lost write

The generic user (drills/locustfile/generic.py) runs them inside Locust; it gets them as JSON
in `DRILLS_JOURNEYS` (`journeys_json` here, `journeys_from_json` there), so the same checks run
when the profile is loaded and when Locust starts. Only `{key}` and `{n}` are replaced in a
template (plain text replacement, so a JSON body keeps its own braces). Pure: no Locust here.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "JOURNEY_KEYS",
    "KEPT_KEYS",
    "METHODS",
    "AcknowledgedKeys",
    "Journey",
    "JourneyProblem",
    "journeys_from_json",
    "journeys_json",
    "parse_journeys",
    "render",
]

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
JOURNEY_KEYS = ("name", "method", "path", "body", "weight", "expect", "ack", "read_of")
KEPT_KEYS = 100  # acknowledged keys a user remembers per journey for its read-backs
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SAMPLE_KEY = "0" * 32


class JourneyProblem(ValueError):
    """One journey key that is wrong: which key, what is wrong, what to write instead."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        super().__init__(f"key '{key}' {problem}. Fix: {fix}")
        self.key, self.problem, self.fix = key, problem, fix


@dataclass(frozen=True)
class Journey:
    """One thing a user does: a request from templates, judged by its status.

    `expect` empty means any 2xx. `ack`: a success is an acknowledged write of the request's
    `{key}`. `read_of` names an acknowledging journey: `{key}` is then one of the keys the user
    saw that journey acknowledge, and a 404 is a lost write.
    """

    name: str
    method: str = "GET"
    path: str = "/"
    body: str | None = None
    weight: int = 1
    expect: tuple[int, ...] = ()
    ack: bool = False
    read_of: str | None = None

    def succeeded(self, status: int) -> bool:
        """Whether `status` counts as success for this journey."""
        return status in self.expect if self.expect else 200 <= status < 300

    def request(self, key: str, n: int) -> tuple[str, str | None]:
        """The path and body of one request with `key` and counter `n` filled in."""
        body = None if self.body is None else render(self.body, key, n)
        return render(self.path, key, n), body


def render(template: str, key: str, n: int) -> str:
    """`template` with `{key}` and `{n}` replaced; every other character kept as written."""
    return template.replace("{key}", key).replace("{n}", str(n))


class AcknowledgedKeys:
    """The keys one user saw acknowledged, per journey: the newest `KEPT_KEYS` of each."""

    def __init__(self, kept: int = KEPT_KEYS) -> None:
        self._kept = kept
        self._keys: dict[str, deque[str]] = {}

    def add(self, journey: str, key: str) -> None:
        """Remember `key` as acknowledged by `journey`."""
        self._keys.setdefault(journey, deque(maxlen=self._kept)).append(key)

    def pick(self, journey: str, index: int) -> str | None:
        """The key at `index` (modulo how many are kept) of `journey`, None when none is."""
        keys = self._keys.get(journey)
        return keys[index % len(keys)] if keys else None

    def forget(self, journey: str, key: str) -> None:
        """Drop `key` (found lost), so one lost write fails one read, not every later one."""
        keys = self._keys.get(journey)
        if keys is not None and key in keys:
            keys.remove(key)


def parse_journeys(items: object, prefix: str) -> tuple[Journey, ...]:
    """Check and read the `[[<prefix>]]` tables; JourneyProblem names the first wrong key."""
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise JourneyProblem(
            prefix,
            f"is {items!r}",
            f'write one [[{prefix}]] table per journey, each with name and path, e.g. name = "read"'
            ' and path = "/items/1"',
        )
    journeys = tuple(_journey(item, f"{prefix}[{index}]") for index, item in enumerate(items))
    _check_names(journeys, prefix)
    for index, journey in enumerate(journeys):
        _check_read_of(journey, journeys, f"{prefix}[{index}]")
    return journeys


def journeys_json(journeys: Iterable[Journey]) -> str:
    """The journeys as JSON, in the profile's own spelling, for `DRILLS_JOURNEYS`."""
    return json.dumps([_spelled(j) for j in journeys], separators=(",", ":"))


def journeys_from_json(text: str, source: str = "DRILLS_JOURNEYS") -> tuple[Journey, ...]:
    """The journeys `journeys_json` wrote, checked again (the variable may be hand-made)."""
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise JourneyProblem(
            source, f"is not JSON ({exc})", "pass what journeys_json writes"
        ) from None
    return parse_journeys(items, source)


def _spelled(journey: Journey) -> dict[str, Any]:
    data = asdict(journey)
    data["expect"] = list(journey.expect)
    return {k: v for k, v in data.items() if v is not None and v != []}


def _journey(item: Mapping[str, Any], where: str) -> Journey:
    unknown = sorted(set(item) - set(JOURNEY_KEYS))
    if unknown:
        raise JourneyProblem(
            f"{where}.{unknown[0]}", "is not a journey key", f"use {', '.join(JOURNEY_KEYS)}"
        )
    name = _text(item, "name", where, None)
    if name is None:
        raise JourneyProblem(f"{where}.name", "is missing", 'name the journey, e.g. name = "read"')
    method = _text(item, "method", where, "GET").upper()
    if method not in METHODS:
        raise JourneyProblem(
            f"{where}.method", f"is {method!r}", f"use one of {', '.join(METHODS)}"
        )
    journey = Journey(
        name=name,
        method=method,
        path=_path(item, where),
        body=_body(item, where),
        weight=_weight(item, where),
        expect=_expect(item, where),
        ack=_flag(item, "ack", where),
        read_of=_text(item, "read_of", where, None),
    )
    _check_ack(journey, where)
    return journey


def _text(item: Mapping[str, Any], key: str, where: str, default: str | None) -> Any:
    value = item.get(key)
    if value is None:
        return default
    if not isinstance(value, str) or not value.strip():
        raise JourneyProblem(
            f"{where}.{key}", f"is {value!r}", f'write a non-empty string: {key} = "..."'
        )
    return value


def _path(item: Mapping[str, Any], where: str) -> str:
    path = _text(item, "path", where, None)
    if path is None or not path.startswith("/"):
        raise JourneyProblem(
            f"{where}.path",
            "is missing" if path is None else f"is {path!r}",
            'write the request path from the service root, e.g. path = "/notes/{key}"',
        )
    _check_placeholders(path, f"{where}.path")
    return str(path)


def _check_placeholders(template: str, key: str) -> None:
    for found in _PLACEHOLDER.findall(template):
        if found not in ("key", "n"):
            raise JourneyProblem(
                key,
                f"has the placeholder {{{found}}}",
                "use only {key} (a fresh uuid4 hex, or an acknowledged key under read_of) and {n}",
            )


def _body(item: Mapping[str, Any], where: str) -> str | None:
    body = _text(item, "body", where, None)
    if body is None:
        return None
    try:
        json.loads(render(body, _SAMPLE_KEY, 1))
    except ValueError as exc:
        raise JourneyProblem(
            f"{where}.body",
            f"is not JSON once {{key}} and {{n}} are filled in ({exc})",
            """write a JSON template, e.g. body = '{"text": "drill {n}"}'""",
        ) from None
    return str(body)


def _weight(item: Mapping[str, Any], where: str) -> int:
    value = item.get("weight", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise JourneyProblem(f"{where}.weight", f"is {value!r}", "write a whole number >= 1")
    return value


def _expect(item: Mapping[str, Any], where: str) -> tuple[int, ...]:
    value = item.get("expect")
    if value is None:
        return ()
    good = isinstance(value, list) and value
    if not good or not all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        raise JourneyProblem(
            f"{where}.expect",
            f"is {value!r}",
            "write the success statuses, e.g. expect = [200, 201]",
        )
    if not all(100 <= s <= 599 for s in value):
        raise JourneyProblem(f"{where}.expect", f"is {value!r}", "use HTTP statuses, 100 to 599")
    return tuple(sorted(set(value)))


def _flag(item: Mapping[str, Any], key: str, where: str) -> bool:
    value = item.get(key, False)
    if not isinstance(value, bool):
        raise JourneyProblem(f"{where}.{key}", f"is {value!r}", f"write {key} = true or false")
    return value


def _check_ack(journey: Journey, where: str) -> None:
    if not journey.ack:
        return
    if "{key}" not in journey.path and "{key}" not in (journey.body or ""):
        raise JourneyProblem(
            f"{where}.ack",
            "is true, but neither path nor body carries {key}",
            'put {key} where the service takes the record\'s id, e.g. path = "/notes/{key}"',
        )
    if journey.read_of is not None:
        raise JourneyProblem(
            f"{where}.read_of",
            "is set on an acknowledging journey",
            "keep ack or read_of, not both",
        )
    if any(not 200 <= s < 300 for s in journey.expect):
        raise JourneyProblem(
            f"{where}.expect",
            f"is {list(journey.expect)!r} on an acknowledging journey",
            "list only 2xx statuses: only a 2xx answer acknowledges a write",
        )


def _check_names(journeys: Sequence[Journey], prefix: str) -> None:
    seen: set[str] = set()
    for index, journey in enumerate(journeys):
        if journey.name in seen:
            raise JourneyProblem(
                f"{prefix}[{index}].name",
                f"repeats {journey.name!r}",
                "give each journey its own name",
            )
        seen.add(journey.name)


def _check_read_of(journey: Journey, journeys: Sequence[Journey], where: str) -> None:
    if journey.read_of is None:
        return
    acknowledging = [j.name for j in journeys if j.ack]
    if journey.read_of not in acknowledging:
        raise JourneyProblem(
            f"{where}.read_of",
            f"is {journey.read_of!r}, which is no journey with ack = true",
            f"name one of: {', '.join(acknowledging) or 'none yet (set ack = true on a write)'}",
        )
    if "{key}" not in journey.path:
        raise JourneyProblem(
            f"{where}.path",
            f"is {journey.path!r}, without {{key}}",
            'read the acknowledged key back by its path, e.g. path = "/notes/{key}"',
        )
    if 404 in journey.expect:
        raise JourneyProblem(
            f"{where}.expect",
            "lists 404 on a read-back",
            "drop 404: a read-back answered 404 is a lost acknowledged write",
        )
