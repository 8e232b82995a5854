"""Answers files: the printed template round-trips; a malformed file is a clear error."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from drills.certification.answers import answers_template, check_sheet, read_answer_sheet
from drills.certification.bank import load_bank
from drills.certification.errors import AnswersFileError
from drills.certification.quiz import Quiz, generate_quiz

QUIZ = generate_quiz(load_bank(), seed=42, count=10)


def filled_template(quiz: Quiz, answers: dict[str, str]) -> str:
    text = answers_template(quiz, trainee="alice")
    for qid, answer in answers.items():
        text = text.replace(f'{qid} = ""', f'{qid} = "{answer}"')
    return text


def test_the_template_is_toml_with_every_question_and_empty_answers() -> None:
    text = answers_template(QUIZ, trainee="alice")
    data = tomllib.loads(text)
    assert data["seed"] == 42
    assert data["count"] == 10
    assert data["trainee"] == "alice"
    assert data["answers"] == {q.id: "" for q in QUIZ.questions}
    for question in QUIZ.questions:
        assert f"# {question.id[1:].lstrip('0')}. {question.prompt}" in text
        assert f"answer with {question.hint()}" in text


def test_a_filled_template_gives_every_answer_back(tmp_path: Path) -> None:
    path = tmp_path / "answers.toml"
    path.write_text(filled_template(QUIZ, {q.id: q.right for q in QUIZ.questions}))
    sheet = read_answer_sheet(path)
    assert (sheet.seed, sheet.count, sheet.trainee) == (42, 10, "alice")
    assert check_sheet(sheet, QUIZ) == {q.id: q.right for q in QUIZ.questions}


def test_json_answers_and_numbers_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    answers: dict[str, str | float] = {q.id: q.right for q in QUIZ.questions}
    numbers = [q for q in QUIZ.questions if q.value is not None]
    for q in numbers:
        answers[q.id] = float(q.right)
    path.write_text(json.dumps({"seed": 42, "answers": answers}))
    checked = check_sheet(read_answer_sheet(path), QUIZ)
    assert checked == {q.id: q.right for q in QUIZ.questions}


def test_empty_and_left_out_answers_are_unanswered_not_errors(tmp_path: Path) -> None:
    path = tmp_path / "answers.toml"
    first = QUIZ.questions[0]
    path.write_text(f'seed = 42\n[answers]\n{first.id} = "{first.right}"\nq02 = ""\n')
    assert check_sheet(read_answer_sheet(path), QUIZ) == {first.id: first.right}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.toml", "seed = 42\n[answers\n", "is not valid TOML"),
        ("a.json", "{seed: 42}", "is not valid JSON"),
        ("a.json", "[1, 2]", "the top level is not an object"),
        ("a.yaml", "seed: 42", "is neither .toml nor .json"),
        ("a.toml", "seed = 42\n", "it has no answers table"),
        ("a.toml", "seed = 42\ncolour = 1\n[answers]\n", "unknown key(s) ['colour']"),
        ("a.toml", "seed = '42'\n[answers]\n", "seed is '42'"),
        ("a.toml", "seed = 42\n[answers]\nq01 = true\n", "the answer to q01 is True"),
        ("a.toml", "seed = 42\n[answers]\nq01 = [1]\n", "the answer to q01 is [1]"),
        ("a.toml", "seed = 42\n[answers.q01]\nx = 1\n", "the answer to q01 is {'x': 1}"),
        ("a.toml", "seed = 42\ntrainee = 7\n[answers]\n", "trainee is 7"),
    ],
)
def test_a_malformed_file_is_a_clear_error(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(AnswersFileError) as raised:
        read_answer_sheet(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)
    assert "Fix:" in str(raised.value)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(AnswersFileError, match=r"cannot be read.*check the path"):
        read_answer_sheet(tmp_path / "nowhere.toml")


def test_answers_that_do_not_fit_the_quiz_are_all_listed(tmp_path: Path) -> None:
    path = tmp_path / "answers.toml"
    choice = next(q for q in QUIZ.questions if q.value is None and "," not in q.right)
    number = next(q for q in QUIZ.questions if q.value is not None)
    path.write_text(f'seed = 42\n[answers]\nq99 = "a"\n{choice.id} = "z"\n{number.id} = "ten"\n')
    with pytest.raises(AnswersFileError) as raised:
        check_sheet(read_answer_sheet(path), QUIZ)
    text = str(raised.value)
    assert "q99: no such question in the quiz of seed 42" in text
    assert f"{choice.id}: 'z' is not one of the options" in text
    assert f"{number.id}: 'ten' is not a number; answer with a number, in {number.unit}" in text
    assert "--print-questions" in text
