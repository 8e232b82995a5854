"""Marking: answers read as people write them, typos refused with the form, PASS at the mark."""

from __future__ import annotations

import pytest

from drills.certification.bank import Source, Variant
from drills.certification.marking import AnswerInvalid, mark_quiz, read_answer
from drills.certification.quiz import Question, Quiz
from drills.core.objectives import Verdict

SOURCE = Source("002_32e8cf954c1de182.txt § Common Alerts > PodCrashLooping", "§2.2")


def question(variant: Variant, qid: str = "q01") -> Question:
    if variant is Variant.NUMBER:
        return Question(
            "f", variant, "How many?", (), "5", "5 restarts", SOURCE, 5.0, "restarts", id=qid
        )
    options = ("b-step", "c-step", "a-step", "d-step")
    right = "c,a,b,d" if variant is Variant.ORDER else "b"
    return Question("f", variant, "Which?", options, right, "b) c-step", SOURCE, id=qid)


@pytest.mark.parametrize(
    ("variant", "raw", "read"),
    [
        (Variant.CHOICE, "B", "b"),
        (Variant.CHOICE, "  c \n", "c"),
        (Variant.NEXT, "d", "d"),
        (Variant.ORDER, "c,a,b,d", "c,a,b,d"),
        (Variant.ORDER, "C A B D", "c,a,b,d"),
        (Variant.ORDER, "cabd", "c,a,b,d"),
        (Variant.ORDER, "c, a, b, d", "c,a,b,d"),
        (Variant.NUMBER, "5", "5"),
        (Variant.NUMBER, 5, "5"),
        (Variant.NUMBER, "5.0", "5"),
        (Variant.NUMBER, 0.1, "0.1"),
    ],
)
def test_answers_are_read_as_people_write_them(
    variant: Variant, raw: str | float, read: str
) -> None:
    assert read_answer(question(variant), raw) == read


@pytest.mark.parametrize(
    ("variant", "raw", "form"),
    [
        (Variant.CHOICE, "e", "one letter: a, b, c or d"),
        (Variant.CHOICE, "ab", "one letter"),
        (Variant.ORDER, "c,a,b", "the letters a, b, c, d in runbook order"),
        (Variant.ORDER, "c,a,a,d", "does not use each letter once"),
        (Variant.NUMBER, "five", "a number, in restarts"),
        (Variant.NUMBER, "5 min", "is not a number"),
    ],
)
def test_an_invalid_answer_is_refused_with_the_form_expected(
    variant: Variant, raw: str, form: str
) -> None:
    with pytest.raises(AnswerInvalid, match=form):
        read_answer(question(variant), raw)


def test_a_number_is_right_however_it_is_written() -> None:
    quiz = Quiz(1, (question(Variant.NUMBER),))
    for given in ("5", "5.0", "5.000"):
        result = mark_quiz(quiz, {"q01": read_answer(quiz.questions[0], given)}, pass_mark=1)
        assert result.right == 1


def test_all_right_passes_and_the_payload_keeps_every_question() -> None:
    quiz = Quiz(9, tuple(question(v, f"q0{n}") for n, v in enumerate(Variant, start=1)))
    result = mark_quiz(quiz, {q.id: q.right for q in quiz.questions}, pass_mark=0.8)
    assert (result.right, result.needed, result.verdict) == (4, 4, Verdict.PASS)
    assert result.wrong() == ()
    payload = result.payload()
    assert payload["seed"] == 9
    assert payload["score"] == 1.0
    questions = payload["questions"]
    assert isinstance(questions, list)
    assert len(questions) == 4
    assert questions[0] == {
        "id": "q01",
        "fact": "f",
        "variant": "choice",
        "prompt": "Which?",
        "options": ["b-step", "c-step", "a-step", "d-step"],
        "unit": "",
        "given": "b",
        "given_text": "b) c-step",
        "right": "b",
        "right_text": "b) c-step",
        "correct": True,
        "source": str(SOURCE),
        "note": "",
    }


def test_the_pass_mark_is_a_share_rounded_up() -> None:
    ten = Quiz(1, tuple(question(Variant.CHOICE, f"q{n:02d}") for n in range(1, 11)))
    eight = {q.id: "b" for q in ten.questions[:8]}
    assert mark_quiz(ten, eight, pass_mark=0.8).verdict is Verdict.PASS
    seven = {q.id: "b" for q in ten.questions[:7]}
    failed = mark_quiz(ten, seven, pass_mark=0.8)
    assert (failed.needed, failed.verdict) == (8, Verdict.FAIL)
    three = Quiz(1, ten.questions[:3])
    assert mark_quiz(three, {}, pass_mark=0.8).needed == 3  # 2.4 rounds up


def test_unanswered_and_wrong_answers_fail_and_are_listed() -> None:
    quiz = Quiz(1, (question(Variant.CHOICE, "q01"), question(Variant.NUMBER, "q02")))
    result = mark_quiz(quiz, {"q01": "a"}, pass_mark=0.5)
    assert result.verdict is Verdict.FAIL
    assert [(m.question.id, m.given) for m in result.wrong()] == [("q01", "a"), ("q02", "")]
    assert result.wrong()[1].to_json()["given_text"] == "no answer"
