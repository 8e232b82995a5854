"""Kubernetes label and field selectors, parsed once and matched against plain JSON objects.

Label selectors follow the documented grammar: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``,
``k notin (a,b)``, ``k`` (exists) and ``!k`` (does not exist), joined by commas. Field selectors
support ``=``, ``==`` and ``!=`` on the fields the API server indexes for the sandbox's
resources: ``metadata.name``, ``metadata.namespace``, ``spec.nodeName``, ``status.phase``
(plus ``involvedObject.*``/``reason``/``type`` on events, which kubectl describe uses).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "SelectorError",
    "label_selector_from_match",
    "parse_field_selector",
    "parse_label_selector",
]

_SET_TERM = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_.-]*)\s*$")
_KEY = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*$")
_FIELDS = frozenset(
    {
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "status.phase",
        "involvedObject.name",
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.uid",
        "reason",
        "type",
        "spec.unschedulable",
    }
)


class SelectorError(ValueError):
    """A selector string that does not parse; the message names the bad term."""


@dataclass(frozen=True)
class _Requirement:
    key: str
    op: str
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        checks: dict[str, Callable[[], bool]] = {
            "exists": lambda: present,
            "!": lambda: not present,
            "in": lambda: present and value in self.values,
            "notin": lambda: not present or value not in self.values,
        }
        return checks[self.op]()


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of label requirements; the empty selector matches everything."""

    requirements: tuple[_Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """True when every requirement holds for `labels`."""
        given = labels or {}
        return all(r.matches(given) for r in self.requirements)

    def matches_object(self, obj: Mapping[str, Any]) -> bool:
        """Match the object's metadata.labels."""
        return self.matches(obj.get("metadata", {}).get("labels"))


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def _parse_term(term: str) -> _Requirement:
    found = _SET_TERM.match(term)
    if found:
        values = frozenset(v.strip() for v in found.group(3).split(",") if v.strip())
        return _Requirement(found.group(1), found.group(2), values)
    found = _EQ_TERM.match(term)
    if found:
        op = "notin" if found.group(2) == "!=" else "in"
        return _Requirement(found.group(1), op, frozenset({found.group(3)}))
    found = _KEY.match(term)
    if found:
        return _Requirement(found.group(2), "!" if found.group(1) else "exists", frozenset())
    raise SelectorError(f"cannot parse label selector term {term!r}; use k=v, k in (a,b), !k")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a label selector string; None or blank gives the match-all selector."""
    if not text or not text.strip():
        return LabelSelector()
    return LabelSelector(tuple(_parse_term(t) for t in _split_terms(text)))


def label_selector_from_match(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Build a selector from a LabelSelector object (matchLabels and matchExpressions)."""
    if not selector:
        return LabelSelector()
    reqs = [
        _Requirement(k, "in", frozenset({str(v)}))
        for k, v in (selector.get("matchLabels") or {}).items()
    ]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        values = frozenset(str(v) for v in expr.get("values") or [])
        reqs.append(_Requirement(str(expr["key"]), ops[str(expr["operator"])], values))
    return LabelSelector(tuple(reqs))


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    current: Any = obj
    for part in path.split("."):
        current = current.get(part) if isinstance(current, Mapping) else None
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


@dataclass(frozen=True)
class FieldSelector:
    """A conjunction of (field, equal?, value) terms."""

    terms: tuple[tuple[str, bool, str], ...] = ()

    def matches_object(self, obj: Mapping[str, Any]) -> bool:
        """True when every term holds for `obj`."""
        return all((_field_value(obj, f) == v) == eq for f, eq, v in self.terms)


def parse_field_selector(text: str | None) -> FieldSelector:
    """Parse a field selector string; unknown fields raise SelectorError naming the known ones."""
    if not text or not text.strip():
        return FieldSelector()
    terms = []
    for term in _split_terms(text):
        found = _EQ_TERM.match(term)
        if not found:
            raise SelectorError(f"cannot parse field selector term {term!r}; use field=value")
        field, op, value = found.groups()
        if field not in _FIELDS:
            known = ", ".join(sorted(_FIELDS))
            raise SelectorError(f"field label {field!r} is not supported; use one of {known}")
        terms.append((field, op != "!=", value))
    return FieldSelector(tuple(terms))
