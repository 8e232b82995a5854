"""Mark a quiz: read each answer the way a person writes it, compare, and decide PASS or FAIL.

An answer is read leniently (`B`, ` b `, `c a d b`, `c,a,d,b`, `15`, `15.0`) but never guessed: an
answer that is not a valid form of the question's kind raises AnswerInvalid with the accepted
form, so a typo is reported rather than marked wrong. An unanswered question is wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from drills.certification.bank import Variant
from drills.certification.quiz import Question, Quiz, number_text
from drills.certification.record import JsonObject, JsonValue
from drills.core.objectives import Verdict

__all__ = ["AnswerInvalid", "Mark", "QuizResult", "mark_quiz", "read_answer"]

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_LETTERS = re.compile(r"[\s,;>-]+")


class AnswerInvalid(ValueError):
    """An answer that is not a valid form for its question; the message gives the form."""


def read_answer(question: Question, raw: str | int | float) -> str:
    """The answer in the form `Question.right` uses (`b`, `c,a,d,b`, `15`).

    Raises AnswerInvalid saying what the question accepts.
    """
    text = str(raw).strip().lower()
    if question.variant is Variant.NUMBER:
        if isinstance(raw, bool) or not _NUMBER.match(text):
            raise AnswerInvalid(f"{raw!r} is not a number; answer with {question.hint()}")
        return number_text(float(text))
    if question.variant is Variant.ORDER:
        letters = [part for part in _LETTERS.split(text) if part]
        if len(letters) == 1:
            letters = list(letters[0])  # `cadb` written without separators
        if sorted(letters) != list(question.letters):
            raise AnswerInvalid(
                f"{raw!r} does not use each letter once; answer with {question.hint()}"
            )
        return ",".join(letters)
    if text not in question.letters:
        raise AnswerInvalid(f"{raw!r} is not one of the options; answer with {question.hint()}")
    return text


@dataclass(frozen=True)
class Mark:
    """One question with the answer given (`""`: none) and whether it is right."""

    question: Question
    given: str

    @property
    def correct(self) -> bool:
        """Right answers only; a number matches to a relative 1e-9."""
        if not self.given:
            return False
        if self.question.variant is Variant.NUMBER and self.question.value is not None:
            return math.isclose(float(self.given), self.question.value, rel_tol=1e-9)
        return self.given == self.question.right

    def to_json(self) -> dict[str, JsonValue]:
        """The question, both answers and the source, for grade.json."""
        q = self.question
        return {
            "id": q.id,
            "fact": q.fact,
            "variant": q.variant.value,
            "prompt": q.prompt,
            "options": list(q.options),
            "unit": q.unit,
            "given": self.given,
            "given_text": q.describe(self.given),
            "right": q.right,
            "right_text": q.right_text,
            "correct": self.correct,
            "source": str(q.source),
            "note": q.note,
        }


@dataclass(frozen=True)
class QuizResult:
    """Every mark of one quiz and the verdict against the pass mark."""

    seed: int
    pass_mark: float
    marks: tuple[Mark, ...]

    @property
    def right(self) -> int:
        """How many answers were right."""
        return sum(m.correct for m in self.marks)

    @property
    def score(self) -> float:
        """The share of right answers, 0 to 1."""
        return self.right / len(self.marks) if self.marks else 0.0

    @property
    def needed(self) -> int:
        """Right answers needed to pass: the pass mark's share of the questions, rounded up."""
        return math.ceil(self.pass_mark * len(self.marks) - 1e-9)  # 0.8 x 10 is 8, not 9

    @property
    def verdict(self) -> Verdict:
        """PASS when enough answers are right, else FAIL."""
        return Verdict.PASS if self.marks and self.right >= self.needed else Verdict.FAIL

    def wrong(self) -> tuple[Mark, ...]:
        """The marks that were not right, in question order."""
        return tuple(m for m in self.marks if not m.correct)

    def payload(self) -> JsonObject:
        """What grade.json keeps of the quiz."""
        return {
            "seed": self.seed,
            "pass_mark": self.pass_mark,
            "score": self.score,
            "right": self.right,
            "needed": self.needed,
            "total": len(self.marks),
            "questions": [m.to_json() for m in self.marks],
        }


def mark_quiz(quiz: Quiz, answers: Mapping[str, str], *, pass_mark: float) -> QuizResult:
    """Mark every question of `quiz`; `answers` maps question ids to answers `read_answer` gave."""
    marks = tuple(Mark(q, answers.get(q.id, "")) for q in quiz.questions)
    return QuizResult(quiz.seed, pass_mark, marks)
