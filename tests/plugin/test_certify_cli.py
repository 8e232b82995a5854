"""`drills certify quiz` as a trainee runs it: a real process, answers typed on its stdin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from drills.certification.bank import load_bank
from drills.certification.quiz import Question, generate_quiz

SEED, COUNT = 2024, 5
QUIZ = generate_quiz(load_bank(), seed=SEED, count=COUNT)


def drills(root: Path, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "drills.cli", "--root", str(root), "certify", *args]
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def quiz(root: Path, answers: list[str]) -> subprocess.CompletedProcess[str]:
    options = ("--trainee", "alice", "--seed", str(SEED), "--count", str(COUNT))
    return drills(root, "quiz", *options, stdin="".join(f"{a}\n" for a in answers))


def wrong_answer(question: Question) -> str:
    if question.value is not None:
        return "9999"
    if "," in question.right:
        return ",".join(reversed(question.right.split(",")))
    return next(letter for letter in question.letters if letter != question.right)


def test_a_trainee_who_knows_the_runbooks_passes(tmp_path: Path) -> None:
    done = quiz(tmp_path, [q.right for q in QUIZ.questions])
    assert done.returncode == 0, done.stdout + done.stderr
    for number, question in enumerate(QUIZ.questions, start=1):
        assert f"{number}/{COUNT} {question.prompt}" in done.stdout
    assert f"PASS  alice: {COUNT} of {COUNT} right" in done.stdout
    [grade] = (tmp_path / "reports" / "certification" / "alice").glob("*/grade.json")
    assert json.loads(grade.read_text())["verdict"] == "PASS"
    assert (grade.parent / "grade.html").is_file()


def test_a_wrong_answer_fails_and_shows_the_right_one_with_its_source(tmp_path: Path) -> None:
    wrong = QUIZ.questions[:2]  # 3 of 5 is under the pass mark of 80%
    answers = [wrong_answer(q) for q in wrong] + [q.right for q in QUIZ.questions[2:]]
    done = quiz(tmp_path, answers)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAIL  alice: {COUNT - 2} of {COUNT} right (4 needed" in done.stdout
    for question in wrong:
        assert f"right:    {question.right_text}" in done.stdout
        assert f"source:   {question.source}" in done.stdout


def test_input_that_ends_early_records_nothing(tmp_path: Path) -> None:
    done = quiz(tmp_path, [QUIZ.questions[0].right])
    assert done.returncode == 2
    assert "the input ended after 1 of the answers; nothing was recorded" in done.stdout
    assert not (tmp_path / "reports").exists()
