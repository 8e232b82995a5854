"""The quiz's facts: rows of RUNBOOKS.md §2 and §3, each with its source, read from quiz_bank.toml.

The bank is data, not code, so a fact is fixed where RUNBOOKS.md changes. `load_bank()` checks it
whole: every fact names a seed file and section, every variant it offers can be asked (a choice
has distractors, a number has a unit), and every prompt template fills in.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

from drills.certification.errors import QuizBankError

__all__ = ["Fact", "FactGroup", "QuizBank", "Source", "Variant", "load_bank"]

BANK_FILE = "quiz_bank.toml"
# As RUNBOOKS.md cites a seed: its file name, then the section heading after `§`.
_SEED = re.compile(r"^00[0-4]_[0-9a-f]{16}\.txt § \S.*$")
_SECTION = re.compile(r"^§\d+(\.\d+)*$")
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class Variant(StrEnum):
    """How a fact is asked: pick one of several, give a number, order steps, name the next step."""

    CHOICE = "choice"
    NUMBER = "number"
    ORDER = "order"
    NEXT = "next"


_VALUE_VARIANTS = (Variant.CHOICE, Variant.NUMBER)
_SEQUENCE_VARIANTS = (Variant.ORDER, Variant.NEXT)
_DEFAULT_PROMPTS = {
    Variant.ORDER: "Put the steps of {subject} in runbook order.",
    Variant.NEXT: "In {subject}, which step comes right after this one: {step}?",
}
_GROUP_KEYS = frozenset({"id", "title", "runbooks", "distractors", "siblings_as_distractors"})
_FACT_KEYS = frozenset(
    {"id", "subject", "answer", "value", "unit", "steps", "distractors", "note", "variants"}
    | {"source", "runbooks"}
)


@dataclass(frozen=True)
class Source:
    """Where a fact comes from: the seed file and section, and the RUNBOOKS.md section."""

    seed: str
    runbooks: str

    def __str__(self) -> str:
        return f"{self.seed} (RUNBOOKS.md {self.runbooks})"


@dataclass(frozen=True)
class Fact:
    """One row of a RUNBOOKS.md table: a value (`answer`, maybe a number) or ordered `steps`."""

    id: str
    group: str
    subject: str
    source: Source
    variants: tuple[Variant, ...]
    prompts: Mapping[Variant, str]
    answer: str = ""
    value: float | None = None
    unit: str = ""
    steps: tuple[str, ...] = ()
    distractors: tuple[str, ...] = ()
    note: str = ""

    def prompt(self, variant: Variant, *, step: str = "") -> str:
        """The question text of `variant`, its template filled in."""
        return self.prompts[variant].format(subject=self.subject, unit=self.unit, step=step)


@dataclass(frozen=True)
class FactGroup:
    """One table of RUNBOOKS.md: facts whose answers make each other's distractors."""

    id: str
    title: str
    facts: tuple[Fact, ...]
    distractors: tuple[str, ...] = ()
    siblings_as_distractors: bool = True

    def wrong_answers(self, fact: Fact) -> tuple[str, ...]:
        """Every candidate distractor of `fact`, in bank order, without its right answer."""
        siblings = (
            [f.answer for f in self.facts if f.answer] if self.siblings_as_distractors else []
        )
        right = fact.answer.casefold()
        seen: dict[str, str] = {}
        for text in (*siblings, *self.distractors, *fact.distractors):
            if text.casefold() != right:
                seen.setdefault(text.casefold(), text)
        return tuple(seen.values())


@dataclass(frozen=True)
class QuizBank:
    """Every group of facts the quiz draws from."""

    groups: tuple[FactGroup, ...]

    def facts(self) -> tuple[Fact, ...]:
        """Every fact, in bank order."""
        return tuple(f for g in self.groups for f in g.facts)

    def group_of(self, fact: Fact) -> FactGroup:
        """The group `fact` belongs to."""
        return next(g for g in self.groups if g.id == fact.group)


def load_bank(text: str | None = None) -> QuizBank:
    """Parse and check the bank (default: the packaged quiz_bank.toml).

    Raises QuizBankError naming the group or fact and the fix.
    """
    if text is None:
        text = resources.files("drills.certification").joinpath(BANK_FILE).read_text("utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise QuizBankError(f"{BANK_FILE} is not valid TOML: {exc}") from exc
    _only(data, frozenset({"group"}), BANK_FILE)
    groups = tuple(_group(g, i) for i, g in enumerate(_tables(data, "group", BANK_FILE)))
    bank = QuizBank(groups)
    _check_unique([g.id for g in groups], "group")
    _check_unique([f.id for f in bank.facts()], "fact")
    for fact in bank.facts():
        _check_askable(fact, bank.group_of(fact))
    return bank


def _group(data: Mapping[str, Any], index: int) -> FactGroup:
    where = f"group {data.get('id', f'#{index + 1}')}"
    prompts = {v: _text(data, v.value, where, "") for v in Variant}
    _only(data, _GROUP_KEYS | {v.value for v in Variant} | {"fact"}, where)
    group_id = _identifier(data, where)
    runbooks = _text(data, "runbooks", where, "")
    facts = tuple(_fact(f, group_id, runbooks, prompts) for f in _tables(data, "fact", where))
    if not facts:
        raise QuizBankError.in_fact(where, "has no [[group.fact]]", "add facts or remove it")
    return FactGroup(
        id=group_id,
        title=_text(data, "title", where, group_id),
        facts=facts,
        distractors=_strings(data, "distractors", where),
        siblings_as_distractors=_flag(data, "siblings_as_distractors", where, default=True),
    )


def _fact(
    data: Mapping[str, Any], group: str, runbooks: str, prompts: Mapping[Variant, str]
) -> Fact:
    where = f"group {group}, fact {data.get('id', '?')}"
    _only(data, _FACT_KEYS | {v.value for v in Variant}, where)
    steps = _strings(data, "steps", where)
    kinds = _SEQUENCE_VARIANTS if steps else _VALUE_VARIANTS
    own = {v: _text(data, v.value, where, "") for v in Variant}
    value = data.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise QuizBankError.in_fact(where, f"value {value!r} is not a number", "write e.g. 15")
    return Fact(
        id=_identifier(data, where),
        group=group,
        subject=_text(data, "subject", where, None),
        source=_source(data, where, runbooks),
        variants=_variants(data, where, kinds, value),
        prompts={v: own[v] or prompts[v] or _DEFAULT_PROMPTS.get(v, "") for v in kinds},
        answer=_text(data, "answer", where, ""),
        value=None if value is None else float(value),
        unit=_text(data, "unit", where, ""),
        steps=steps,
        distractors=_strings(data, "distractors", where),
        note=_text(data, "note", where, ""),
    )


def _source(data: Mapping[str, Any], where: str, runbooks: str) -> Source:
    seed = _text(data, "source", where, None)
    if not _SEED.match(seed):
        raise QuizBankError.in_fact(
            where,
            f"source {seed!r} does not name a seed file and section",
            "write it as RUNBOOKS.md cites it, e.g. '002_32e8cf954c1de182.txt § Common Alerts'",
        )
    section = _text(data, "runbooks", where, runbooks)
    if not _SECTION.match(section):
        raise QuizBankError.in_fact(
            where, f"runbooks {section!r} is not a RUNBOOKS.md section", "write e.g. '§2.2'"
        )
    return Source(seed, section)


def _variants(
    data: Mapping[str, Any], where: str, kinds: Sequence[Variant], value: object
) -> tuple[Variant, ...]:
    names = _strings(data, "variants", where)
    if not names:
        return tuple(v for v in kinds if v is not Variant.NUMBER or value is not None)
    wrong = [n for n in names if n not in {k.value for k in kinds}]
    if wrong:
        raise QuizBankError.in_fact(
            where,
            f"variants {wrong} do not fit this fact",
            f"use some of {[k.value for k in kinds]}",
        )
    return tuple(Variant(n) for n in names)


def _check_askable(fact: Fact, group: FactGroup) -> None:
    where = f"group {group.id}, fact {fact.id}"
    if fact.steps:
        if len(fact.steps) < 3 or len(set(fact.steps)) != len(fact.steps):
            raise QuizBankError.in_fact(where, "needs 3 or more distinct steps", "add steps")
    elif not fact.answer:
        raise QuizBankError.in_fact(where, "has neither answer nor steps", "add `answer`")
    if Variant.CHOICE in fact.variants and not group.wrong_answers(fact):
        raise QuizBankError.in_fact(
            where, "has no distractors", "add `distractors = [...]` to the fact or its group"
        )
    if Variant.NUMBER in fact.variants and (fact.value is None or not fact.unit):
        raise QuizBankError.in_fact(where, "a number question needs value and unit", "add both")
    for variant in fact.variants:
        _check_prompt(fact, variant, where)


def _check_prompt(fact: Fact, variant: Variant, where: str) -> None:
    if not fact.prompts.get(variant):
        raise QuizBankError.in_fact(
            where, f"has no {variant} prompt", f'set `{variant} = "..."` on it or its group'
        )
    try:
        fact.prompt(variant, step="a step")
    except (KeyError, IndexError, ValueError) as exc:
        raise QuizBankError.in_fact(
            where,
            f"its {variant} prompt does not fill in ({exc!r})",
            "use {subject}, {unit}, {step}",
        ) from exc


def _check_unique(ids: Sequence[str], what: str) -> None:
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise QuizBankError.in_fact(what + "s", f"ids {twice} appear twice", "make each id unique")


def _tables(data: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    found = data.get(key, [])
    if not isinstance(found, list) or not all(isinstance(t, dict) for t in found):
        raise QuizBankError.in_fact(where, f"{key} is not a list of tables", f"use [[{key}]]")
    return found


def _only(data: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise QuizBankError.in_fact(
            where, f"unknown key(s) {unknown}", f"remove them or use one of {sorted(allowed)}"
        )


def _identifier(data: Mapping[str, Any], where: str) -> str:
    text = _text(data, "id", where, None)
    if not _ID.match(text):
        raise QuizBankError.in_fact(where, f"id {text!r} is not kebab-case", "write e.g. 'rto-db'")
    return text


def _text(data: Mapping[str, Any], key: str, where: str, default: str | None) -> str:
    value = data.get(key, default)
    if value is None:
        raise QuizBankError.in_fact(where, f"has no `{key}`", f'add {key} = "..."')
    if not isinstance(value, str):
        raise QuizBankError.in_fact(where, f"`{key}` is not text", f'write {key} = "..."')
    return value


def _strings(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise QuizBankError.in_fact(
            where, f"`{key}` is not a list of text", f'write {key} = ["..."]'
        )
    return tuple(value)


def _flag(data: Mapping[str, Any], key: str, where: str, *, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise QuizBankError.in_fact(where, f"`{key}` is not true or false", f"write {key} = true")
    return value
