"""What a trainee was seen doing (an `Action`) and declarative rules that recognise it (`Matcher`).

An Action is one line of evidence the trainee cannot fake: an API server audit event, a
PostgreSQL statement, a request to the AWS endpoint, or something the certification session
recorded for them (acknowledging the page, paging the next level, posting the notice, filing the
post-mortem). A Matcher says, as data, which actions count for a runbook step, so a grade can
print what was expected next to what was seen.

Bodies are JSON as the evidence holds it: a whole object (an update), a strategic-merge or merge
patch (a mapping), or a JSON patch (a list of `{"op", "path", "value"}`, which is what
`kubectl rollout undo` sends). `BodyRule` looks through all three.
"""

from __future__ import annotations

import fnmatch
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeAlias

from drills.core.errors import ConfigError

__all__ = ["Action", "BodyRule", "BodyTest", "Json", "Matcher", "Source", "TraineeVerb", "fill"]

Json: TypeAlias = "bool | int | float | str | Sequence[Json] | Mapping[str, Json] | None"


class Source(StrEnum):
    """Where a line of evidence comes from."""

    KUBE = "kube"  # the Kubernetes API server's audit log
    SQL = "sql"  # the PostgreSQL statement log of the trainee's role
    AWS = "aws"  # the AWS endpoint's request log (moto in the sandbox)
    REDIS = "redis"  # a Redis command log, where an environment has one
    TRAINEE = "trainee"  # recorded by the certification session: ack, page, notice, post-mortem


class TraineeVerb(StrEnum):
    """What the certification session records for the trainee beside the fix."""

    ACK = "ack"
    PAGE = "page"  # `name` holds the level paged, e.g. "2"
    NOTICE = "notice"  # `text` holds the notice
    POSTMORTEM = "postmortem"  # `text` holds the report


@dataclass(frozen=True)
class Action:
    """One observed action; `at_s` is wall time in epoch seconds (UTC).

    `resource`/`subresource`/`namespace`/`name` locate the object (kube: `deployments`,
    `scale`, `default`, `shop`; sql: `name` is the database; aws: `resource` is the service and
    `name` the bucket/key or instance). `text` is what a person would read: the request URI, the
    SQL statement, the request line, a notice. `code` is the raw status where there is one and
    `succeeded` is None when the evidence does not say. `summary` is what a person would call
    it, when a reader recognises it (`kubectl rollout undo deployment/shop`).
    """

    at_s: float
    source: Source
    actor: str
    verb: str
    resource: str = ""
    name: str = ""
    namespace: str = ""
    subresource: str = ""
    text: str = ""
    agent: str = ""
    code: int | None = None
    succeeded: bool | None = None
    body: Json = None
    summary: str = ""

    @property
    def target(self) -> str:
        """`deployments/shop/scale`, `pods`, or the SQL database / AWS object."""
        parts = [self.resource, self.name, self.subresource]
        return "/".join(p for p in parts if p)

    @property
    def detail(self) -> str:
        """One evidence line: `17:02:10Z kube drills-trainee:alice patch deployments/shop 200`."""
        when = datetime.fromtimestamp(self.at_s, UTC).strftime("%H:%M:%SZ")
        where = f" -n {self.namespace}" if self.namespace else ""
        status = f" {self.code}" if self.code is not None else ""
        if self.succeeded is False and self.code is None:
            status = " failed"
        text = f": {_one_line(self.text)}" if self.text and self.source is not Source.KUBE else ""
        said = f" ({self.summary})" if self.summary else ""
        line = f"{when} {self.source} {self.actor} {self.verb} {self.target}{where}{status}"
        return line + said + text

    @classmethod
    def trainee(
        cls, verb: TraineeVerb, at_s: float, actor: str, *, name: str = "", text: str = ""
    ) -> Action:
        """An action the certification session recorded for the trainee."""
        return cls(at_s, Source.TRAINEE, actor, verb.value, name=name, text=text, succeeded=True)


def _one_line(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class BodyTest(StrEnum):
    """How a `BodyRule` judges the value at its path."""

    PRESENT = "present"
    REPLACED = "replaced"  # written whole: a JSON patch op at exactly the path, or a full object
    EQUALS = "equals"
    AT_LEAST = "at least"
    AT_MOST = "at most"


@dataclass(frozen=True)
class BodyRule:
    """A test on the request body at `path` (keys from the root, e.g. `("spec", "replicas")`)."""

    path: tuple[str, ...]
    test: BodyTest = BodyTest.PRESENT
    value: float | str | bool | None = None

    def holds(self, body: Json) -> bool:
        """Whether the body satisfies the rule (a missing body never does)."""
        if self.test is BodyTest.REPLACED:
            return _replaced(body, self.path)
        return any(self._judge(found) for found in _values_at(body, self.path))

    def _judge(self, found: Json) -> bool:
        if self.test is BodyTest.PRESENT:
            return True
        if self.test is BodyTest.EQUALS:
            return found == self.value
        number, bound = _number(found), _number(self.value)
        if number is None or bound is None:
            return False
        return number >= bound if self.test is BodyTest.AT_LEAST else number <= bound

    def describe(self) -> str:
        """E.g. `spec.replicas equals 0`."""
        where = ".".join(self.path)
        if self.test in (BodyTest.PRESENT, BodyTest.REPLACED):
            return f"{where} {self.test}"
        return f"{where} {self.test} {self.value!r}"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _walk(value: Json, path: Sequence[str]) -> list[Json]:
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return []
        value = value[key]
    return [value]


def _patch_ops(body: Json) -> list[tuple[tuple[str, ...], Json]]:
    """The (path, value) pairs a JSON patch writes; empty for anything else."""
    if isinstance(body, str | bytes) or not isinstance(body, Sequence):
        return []
    ops = []
    for op in body:
        if isinstance(op, Mapping) and op.get("op") in ("add", "replace"):
            pointer = op.get("path")
            if isinstance(pointer, str):
                keys = tuple(
                    k.replace("~1", "/").replace("~0", "~") for k in pointer.split("/")[1:]
                )
                ops.append((keys, op.get("value")))
    return ops


def _values_at(body: Json, path: tuple[str, ...]) -> list[Json]:
    if isinstance(body, Mapping):
        return _walk(body, path)
    found: list[Json] = []
    for keys, value in _patch_ops(body):
        if path[: len(keys)] == keys:
            found += _walk(value, path[len(keys) :])
    return found


def _replaced(body: Json, path: tuple[str, ...]) -> bool:
    if isinstance(body, Mapping):  # an update sends the whole object, kind and all
        return "kind" in body and bool(_walk(body, path))
    return any(keys == path for keys, _ in _patch_ops(body))


@dataclass(frozen=True)
class Matcher:
    """Which actions count, as data. Empty fields match anything.

    `name` is an fnmatch pattern and may name placeholders (`{deployment}`, `{namespace}`)
    filled from the environment when grading. `subresource` None matches any, "" only none.
    `namespace` also accepts a request across all namespaces (`kubectl get pods -A`).
    `text` regexes must all be found (case-insensitive), `text_not` none of them; `body` rules
    must all hold. `succeeded_only` drops requests the server refused. `what` is how a person
    would say it (`kubectl rollout undo deployment/shop`).
    """

    source: Source
    verbs: tuple[str, ...] = ()
    resource: str = ""
    subresource: str | None = None
    name: str = "*"
    namespace: str = ""
    text: tuple[str, ...] = ()
    text_not: tuple[str, ...] = ()
    body: tuple[BodyRule, ...] = ()
    agent: str = ""
    succeeded_only: bool = True
    what: str = ""

    def matches(self, action: Action, names: Mapping[str, str]) -> bool:
        """Whether `action` is one this matcher recognises; raises ConfigError on a bad name."""
        return (
            self._locates(action, names)
            and all(re.search(p, action.text, re.IGNORECASE | re.DOTALL) for p in self.text)
            and not any(re.search(p, action.text, re.IGNORECASE | re.DOTALL) for p in self.text_not)
            and all(rule.holds(action.body) for rule in self.body)
            and (not self.agent or re.search(self.agent, action.agent, re.IGNORECASE) is not None)
            and not (self.succeeded_only and action.succeeded is False)
        )

    def _locates(self, action: Action, names: Mapping[str, str]) -> bool:
        return (
            action.source is self.source
            and (not self.verbs or action.verb in self.verbs)
            and (not self.resource or action.resource == self.resource)
            and (self.subresource is None or action.subresource == self.subresource)
            and fnmatch.fnmatchcase(action.name, fill(self.name, names))
            and (not self.namespace or action.namespace in ("", fill(self.namespace, names)))
        )

    def describe(self, names: Mapping[str, str]) -> str:
        """What was expected, e.g. `kube patch deployments/shop (spec.replicas equals 0)`."""
        verbs = "|".join(self.verbs) or "any"
        target = "/".join(p for p in (self.resource, fill(self.name, names)) if p and p != "*")
        if self.subresource:
            target += f"/{self.subresource}"
        parts = [f"{self.source} {verbs} {target}".rstrip()]
        parts += [f"text ~ /{p}/" for p in self.text] + [f"text !~ /{p}/" for p in self.text_not]
        parts += [rule.describe() for rule in self.body]
        said = f"{fill(self.what, names)}: " if self.what else ""
        return said + "; ".join(parts)


def fill(pattern: str, names: Mapping[str, str]) -> str:
    """`{deployment}` → `shop`; raises ConfigError naming the placeholders that are known."""
    try:
        return string.Formatter().vformat(pattern, (), dict(names))
    except (KeyError, IndexError) as exc:
        raise ConfigError(
            f"matcher pattern {pattern!r} names {exc} but the environment gives only "
            f"{sorted(names)}; pass it in Evidence.names"
        ) from exc
