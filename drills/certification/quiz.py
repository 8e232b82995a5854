"""Generate a quiz from the bank's facts: the same seed gives the same questions, in the same order.

Questions are spread over the bank's groups (one from each group before a second from any), each
fact is asked in one of its variants, and the distractors of a multiple-choice question come from
the same RUNBOOKS.md table. Options are lettered a, b, c, ...; an `order` answer lists the letters
in runbook order (`c,a,d,b`); a `number` answer is a plain number in the question's unit.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from string import ascii_lowercase
from typing import assert_never

from drills.certification.bank import Fact, FactGroup, QuizBank, Source, Variant
from drills.certification.errors import CertificationError

__all__ = ["Question", "Quiz", "generate_quiz", "number_text"]

_MAX_DISTRACTORS = 3  # four options at most: enough to guess badly, short enough to read


@dataclass(frozen=True)
class Question:
    """One question: its text, its lettered options, the right answer and where it comes from.

    `id` is the question's number in its quiz (`q01`), which says nothing about the answer;
    `fact` is the bank's fact it asks about. `right` is the answer as an answers file gives it
    (`b`, `c,a,d,b` or `15`); `right_text` says what it means (the option's text, the steps in
    order, `15 minutes`).
    """

    fact: str
    variant: Variant
    prompt: str
    options: tuple[str, ...]
    right: str
    right_text: str
    source: Source
    value: float | None = None
    unit: str = ""
    note: str = ""
    id: str = ""

    @property
    def letters(self) -> tuple[str, ...]:
        """The letters of the options, `a` first."""
        return tuple(ascii_lowercase[: len(self.options)])

    def hint(self) -> str:
        """How to write an answer to this question."""
        letters = self.letters
        if self.variant is Variant.NUMBER:
            return f"a number, in {self.unit}"
        if self.variant is Variant.ORDER:
            return f"the letters {', '.join(letters)} in runbook order, e.g. {','.join(letters)}"
        return f"one letter: {', '.join(letters[:-1])} or {letters[-1]}"

    def describe(self, answer: str) -> str:
        """What an answer in `right`'s form means: `b) 15 min`, steps in that order, `15 min`."""
        if not answer:
            return "no answer"
        if self.variant is Variant.NUMBER:
            return f"{answer} {self.unit}"
        picked = [self.options[self.letters.index(letter)] for letter in answer.split(",")]
        if self.variant is Variant.ORDER:
            return " → ".join(picked)
        return f"{answer}) {picked[0]}"


@dataclass(frozen=True)
class Quiz:
    """The questions of one seed."""

    seed: int
    questions: tuple[Question, ...]


def generate_quiz(bank: QuizBank, *, seed: int, count: int) -> Quiz:
    """`count` questions drawn from `bank` with `random.Random(seed)`.

    Raises CertificationError when `count` is not between 1 and the number of facts.
    """
    facts = bank.facts()
    if not 1 <= count <= len(facts):
        raise CertificationError(
            f"a quiz asks 1 to {len(facts)} questions (one per fact of the bank), not {count}; "
            "pass --count within that range"
        )
    rng = random.Random(seed)
    chosen = _spread(bank.groups, rng)[:count]
    asked = (_question(f, bank.group_of(f), rng) for f in chosen)
    return Quiz(seed, tuple(replace(q, id=f"q{n:02d}") for n, q in enumerate(asked, start=1)))


def number_text(value: float) -> str:
    """A number as a person writes it: `15`, `0.1`."""
    return f"{value:g}"


def _spread(groups: Sequence[FactGroup], rng: random.Random) -> list[Fact]:
    """Every fact, groups taken in turns so a short quiz still covers many tables."""
    queues = [list(g.facts) for g in groups]
    rng.shuffle(queues)
    for queue in queues:
        rng.shuffle(queue)
    spread: list[Fact] = []
    while any(queues):
        spread.extend(queue.pop() for queue in queues if queue)
    return spread


def _question(fact: Fact, group: FactGroup, rng: random.Random) -> Question:
    variant = rng.choice(fact.variants)
    match variant:
        case Variant.CHOICE:
            return _choice(fact, group, rng)
        case Variant.NUMBER:
            return _number(fact)
        case Variant.ORDER:
            return _order(fact, rng)
        case Variant.NEXT:
            return _next(fact, rng)
        case _:
            assert_never(variant)


def _choice(fact: Fact, group: FactGroup, rng: random.Random) -> Question:
    wrong = group.wrong_answers(fact)
    options = _shuffled([fact.answer, *rng.sample(wrong, min(_MAX_DISTRACTORS, len(wrong)))], rng)
    return _lettered(fact, Variant.CHOICE, fact.prompt(Variant.CHOICE), options, fact.answer)


def _number(fact: Fact) -> Question:
    value = fact.value if fact.value is not None else 0.0  # the bank checked a number fact has one
    return Question(
        fact=fact.id,
        variant=Variant.NUMBER,
        prompt=fact.prompt(Variant.NUMBER),
        options=(),
        right=number_text(value),
        right_text=_number_meaning(value, fact),
        source=fact.source,
        value=value,
        unit=fact.unit,
        note=fact.note,
    )


def _number_meaning(value: float, fact: Fact) -> str:
    """`60 minutes`, with the runbook's wording when it says more (`70 percent: above 70% ...`)."""
    plain = f"{number_text(value)} {fact.unit}"
    return plain if len(fact.answer.split()) <= 2 else f"{plain}: {fact.answer}"


def _order(fact: Fact, rng: random.Random) -> Question:
    options = _shuffled(list(fact.steps), rng)
    if options == fact.steps:  # already in order would give the answer away
        options = options[::-1]
    letters = ascii_lowercase[: len(options)]
    right = ",".join(letters[options.index(step)] for step in fact.steps)
    return Question(
        fact=fact.id,
        variant=Variant.ORDER,
        prompt=fact.prompt(Variant.ORDER),
        options=options,
        right=right,
        right_text=" → ".join(fact.steps),
        source=fact.source,
        note=fact.note,
    )


def _next(fact: Fact, rng: random.Random) -> Question:
    shown = rng.randrange(len(fact.steps) - 1)
    answer = fact.steps[shown + 1]
    wrong = [s for i, s in enumerate(fact.steps) if i not in (shown, shown + 1)]
    picked = rng.sample(wrong, min(_MAX_DISTRACTORS, len(wrong)))
    options = _shuffled([answer, *picked], rng)
    prompt = fact.prompt(Variant.NEXT, step=fact.steps[shown])
    return _lettered(fact, Variant.NEXT, prompt, options, answer)


def _lettered(
    fact: Fact, variant: Variant, prompt: str, options: tuple[str, ...], answer: str
) -> Question:
    letter = ascii_lowercase[options.index(answer)]
    return Question(
        fact=fact.id,
        variant=variant,
        prompt=prompt,
        options=options,
        right=letter,
        right_text=f"{letter}) {answer}",
        source=fact.source,
        note=fact.note,
    )


def _shuffled(items: list[str], rng: random.Random) -> tuple[str, ...]:
    rng.shuffle(items)
    return tuple(items)
