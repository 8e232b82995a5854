"""Answers files: a quiz answered outside the terminal, in TOML or JSON.

```toml
seed = 42                 # the seed the questions were printed with (or pass --seed)
count = 10                # optional: how many questions were printed
trainee = "alice"         # optional: checked against --trainee
[answers]
q01 = "b"                 # one letter for a multiple-choice question
q02 = 10                  # a number, in the question's unit
q03 = "c,a,d,b"           # letters in runbook order
```

JSON holds the same keys (`{"seed": 42, "answers": {"q01": "b"}}`).
`drills certify quiz --print-questions --seed N` prints such a file with every question as a
comment and the answers left empty. An answer left empty (`""`) or out counts as wrong.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from drills.certification.errors import AnswersFileError
from drills.certification.marking import AnswerInvalid, read_answer
from drills.certification.quiz import Quiz

__all__ = ["AnswerSheet", "answers_template", "check_sheet", "read_answer_sheet"]

_KEYS = frozenset({"seed", "count", "trainee", "answers"})
_FORMAT_FIX = "see `drills certify quiz --help`, or start from `--print-questions`"

Answer = str | int | float


@dataclass(frozen=True)
class AnswerSheet:
    """What an answers file says: the quiz it answers and the answer to each question id."""

    path: Path
    answers: Mapping[str, Answer]
    seed: int | None = None
    count: int | None = None
    trainee: str | None = None


def read_answer_sheet(path: Path) -> AnswerSheet:
    """Read a `.toml` or `.json` answers file; raises AnswersFileError naming the problem."""
    data = _parse(path)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise AnswersFileError.at(
            path, f"unknown key(s) {unknown}", f"use only {sorted(_KEYS)}; {_FORMAT_FIX}"
        )
    answers = data.get("answers")
    if not isinstance(answers, dict):
        raise AnswersFileError.at(
            path, "it has no answers table", f'add [answers] (JSON: "answers": {{}}); {_FORMAT_FIX}'
        )
    return AnswerSheet(
        path=path,
        answers=_answers(path, answers),
        seed=_whole(path, data, "seed"),
        count=_whole(path, data, "count"),
        trainee=_trainee(path, data),
    )


def check_sheet(sheet: AnswerSheet, quiz: Quiz) -> dict[str, str]:
    """Every answer in the form marking compares, by question id.

    Raises AnswersFileError listing every unknown question id and every answer that is not a
    valid form (with the form expected); a question the file leaves out counts as unanswered.
    """
    questions = {q.id: q for q in quiz.questions}
    problems = [
        f"{qid}: no such question in the quiz of seed {quiz.seed}"
        for qid in sorted(set(sheet.answers) - set(questions))
    ]
    checked: dict[str, str] = {}
    for qid, raw in sheet.answers.items():
        if qid not in questions or raw == "":
            continue
        try:
            checked[qid] = read_answer(questions[qid], raw)
        except AnswerInvalid as exc:
            problems.append(f"{qid}: {exc}")
    if problems:
        raise AnswersFileError.at(
            sheet.path,
            "some answers do not fit the quiz:\n  " + "\n  ".join(problems),
            "correct them (print the questions again with --print-questions and the same seed)",
        )
    return checked


def answers_template(quiz: Quiz, *, trainee: str | None = None) -> str:
    """An answers file for `quiz`: every question as a comment above an empty answer."""
    lines = [
        f"# drills certify quiz: seed {quiz.seed}, {len(quiz.questions)} questions.",
        "# Fill in every answer, then run:",
        f"#   drills certify quiz --trainee {trainee or 'NAME'} --answers THIS_FILE",
        f"seed = {quiz.seed}",
        f"count = {len(quiz.questions)}",
    ]
    if trainee:
        lines.append(f'trainee = "{trainee}"')
    lines += ["", "[answers]"]
    for number, question in enumerate(quiz.questions, start=1):
        lines.append(f"# {number}. {question.prompt}")
        lines += [
            f"#    {letter}) {text}"
            for letter, text in zip(question.letters, question.options, strict=True)
        ]
        lines += [f"#    answer with {question.hint()}", f'{question.id} = ""', ""]
    return "\n".join(lines)


def _parse(path: Path) -> Mapping[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AnswersFileError.at(
            path, f"cannot be read ({exc.strerror})", "check the path"
        ) from exc
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        if path.suffix == ".json":
            data = json.loads(text)
            if isinstance(data, dict):
                return data
            raise ValueError("the top level is not an object")
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise AnswersFileError.at(
            path, f"is not valid {path.suffix[1:].upper()}: {exc}", _FORMAT_FIX
        ) from exc
    raise AnswersFileError.at(
        path, "is neither .toml nor .json", "name it answers.toml or answers.json"
    )


def _answers(path: Path, table: Mapping[str, object]) -> dict[str, Answer]:
    answers: dict[str, Answer] = {}
    for qid, value in table.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise AnswersFileError.at(
                path,
                f"the answer to {qid} is {value!r}",
                'write a letter ("b"), letters or a number',
            )
        answers[qid] = value
    return answers


def _whole(path: Path, data: Mapping[str, object], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AnswersFileError.at(path, f"{key} is {value!r}", f"write {key} as a whole number")
    return value


def _trainee(path: Path, data: Mapping[str, object]) -> str | None:
    value = data.get("trainee")
    if value is not None and not isinstance(value, str):
        raise AnswersFileError.at(path, f"trainee is {value!r}", 'write trainee = "name"')
    return value
