"""Quiz generation: deterministic by seed, spread over the tables, answers among the options."""

from __future__ import annotations

from string import ascii_lowercase

import pytest

from drills.certification.bank import Variant, load_bank
from drills.certification.errors import CertificationError
from drills.certification.quiz import generate_quiz

BANK = load_bank()


def test_the_same_seed_asks_the_same_questions() -> None:
    first = generate_quiz(BANK, seed=42, count=10)
    again = generate_quiz(load_bank(), seed=42, count=10)
    assert first == again
    assert [q.id for q in first.questions] == [f"q{n:02d}" for n in range(1, 11)]


def test_other_seeds_ask_other_quizzes() -> None:
    quizzes = {generate_quiz(BANK, seed=s, count=10).questions for s in range(20)}
    assert len(quizzes) == 20


def test_a_longer_quiz_of_the_same_seed_starts_with_the_same_facts() -> None:
    short = generate_quiz(BANK, seed=3, count=5)
    long = generate_quiz(BANK, seed=3, count=12)
    assert [q.fact for q in long.questions[:5]] == [q.fact for q in short.questions]


def test_a_short_quiz_takes_each_question_from_another_table() -> None:
    groups = len(BANK.groups)
    quiz = generate_quiz(BANK, seed=5, count=groups)
    facts = {f.id: f for f in BANK.facts()}
    assert len({facts[q.fact].group for q in quiz.questions}) == groups


@pytest.mark.parametrize("seed", range(40))
def test_every_question_can_be_answered_and_names_its_source(seed: int) -> None:
    facts = {f.id: f for f in BANK.facts()}
    quiz = generate_quiz(BANK, seed=seed, count=len(facts))
    assert sorted(q.fact for q in quiz.questions) == sorted(facts)  # every fact once
    for question in quiz.questions:
        fact = facts[question.fact]
        assert question.source == fact.source
        assert question.variant in fact.variants
        assert len(set(question.options)) == len(question.options)
        assert question.letters == tuple(ascii_lowercase[: len(question.options)])
        if question.variant is Variant.NUMBER:
            assert question.options == ()
            assert question.value == fact.value
        elif question.variant is Variant.ORDER:
            picked = [question.options[ascii_lowercase.index(x)] for x in question.right.split(",")]
            assert tuple(picked) == fact.steps
            assert question.options != fact.steps  # never shown already in order
        else:
            assert 2 <= len(question.options) <= 4
            assert question.right in question.letters


def test_a_choice_offers_the_answer_and_distractors_from_the_same_table() -> None:
    facts = {f.id: f for f in BANK.facts()}
    for seed in range(60):
        for question in generate_quiz(BANK, seed=seed, count=len(facts)).questions:
            if question.variant is not Variant.CHOICE:
                continue
            fact = facts[question.fact]
            right = question.options[ascii_lowercase.index(question.right)]
            assert right == fact.answer
            wrong = set(question.options) - {right}
            assert wrong <= set(BANK.group_of(fact).wrong_answers(fact))


def test_a_next_step_question_shows_a_step_and_wants_the_one_after_it() -> None:
    facts = {f.id: f for f in BANK.facts()}
    seen = 0
    for seed in range(60):
        for question in generate_quiz(BANK, seed=seed, count=len(facts)).questions:
            if question.variant is not Variant.NEXT:
                continue
            steps = facts[question.fact].steps
            right = question.options[ascii_lowercase.index(question.right)]
            shown = steps[steps.index(right) - 1]
            assert shown in question.prompt
            assert shown not in question.options
            seen += 1
    assert seen > 0


@pytest.mark.parametrize("count", [0, -1, 10_000])
def test_a_count_outside_the_bank_is_refused_with_the_range(count: int) -> None:
    with pytest.raises(CertificationError, match=r"a quiz asks 1 to \d+ questions.*--count"):
        generate_quiz(BANK, seed=1, count=count)


def test_describe_says_what_an_answer_means() -> None:
    quiz = generate_quiz(BANK, seed=11, count=len(BANK.facts()))
    for question in quiz.questions:
        text = question.describe(question.right)
        if question.variant is Variant.NUMBER:
            assert text == f"{question.right} {question.unit}"
        elif question.variant is Variant.ORDER:
            assert text.count("→") == len(question.options) - 1
        else:
            assert text == question.right_text
        assert question.describe("") == "no answer"
