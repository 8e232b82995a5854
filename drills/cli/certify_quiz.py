"""`drills certify quiz`: ask the questions in the terminal or mark an answers file, then record.

In the terminal every answer is read from stdin (so a script can pipe answers in); an answer that
is not a valid form is asked again, up to five times, then left unanswered. A quiz cut short
(end of input, Ctrl-C) records nothing. Either way the grade is written to
`reports/certification/<trainee>/<run-id>/` and every wrong answer is shown beside the right
one and its source.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from rich.console import Console
from rich.text import Text

from drills.certification.answers import answers_template, check_sheet, read_answer_sheet
from drills.certification.bank import QuizBank, load_bank
from drills.certification.errors import CertificationError
from drills.certification.marking import AnswerInvalid, QuizResult, mark_quiz, read_answer
from drills.certification.quiz import Question, Quiz, generate_quiz
from drills.certification.record import QUIZ_ID, GradeRecord, RecordKind, validate_trainee
from drills.certification.records import GRADE_HTML, write_record
from drills.cli.certify_support import FAILED, CertifyContext, add_trainee_argument
from drills.core.objectives import Verdict
from drills.reporting.progress import verdict_style

__all__ = ["add_quiz_arguments", "ask_in_terminal", "quiz_action"]

ABANDONED = 130  # as a shell reports a command stopped by Ctrl-C
_TRIES = 5  # invalid answers to one question before it is left unanswered
_SEEDS = 1_000_000  # a new seed is short enough to type again


class QuizAbandoned(CertificationError):
    """The quiz stopped before every question had an answer; nothing is recorded."""


def add_quiz_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `drills certify quiz`."""
    add_trainee_argument(parser, required=False)
    parser.add_argument(
        "--answers", type=Path, metavar="FILE", help="mark an answers file (.toml or .json)"
    )
    parser.add_argument(
        "--seed", type=int, help="the same seed asks the same questions (default: a new one)"
    )
    parser.add_argument("--count", type=int, metavar="N", help="how many questions (default 10)")
    parser.add_argument(
        "--print-questions",
        action="store_true",
        help="print the questions as an answers file to fill in; record nothing",
    )


def quiz_action(args: argparse.Namespace, context: CertifyContext) -> int:
    """Print, ask or mark the quiz; exit 0 on PASS, 1 on FAIL."""
    bank = load_bank()
    if args.print_questions:
        quiz = _quiz(bank, args.seed, args.count, context)
        context.console.print(
            answers_template(quiz, trainee=args.trainee), markup=False, highlight=False
        )
        return 0
    if not args.trainee:
        raise CertificationError("--trainee NAME is needed to record a quiz")
    trainee = validate_trainee(args.trainee)
    if args.answers:
        quiz, answers = _from_file(args, bank, context, trainee)
    else:
        quiz = _quiz(bank, args.seed, args.count, context)
        try:
            answers = ask_in_terminal(quiz, context, trainee)
        except KeyboardInterrupt:
            context.console.print("\nquiz abandoned; nothing was recorded")
            return ABANDONED
    result = mark_quiz(quiz, answers, pass_mark=context.settings.quiz_pass_mark)
    run_dir = _record(result, context, trainee)
    show_result(result, context.console, trainee)
    context.console.print(f"grade: {run_dir / GRADE_HTML}", markup=False, highlight=False)
    return 0 if result.verdict is Verdict.PASS else FAILED


def ask_in_terminal(quiz: Quiz, context: CertifyContext, trainee: str) -> dict[str, str]:
    """Ask every question on the console, reading answers from `context.stdin`.

    Raises QuizAbandoned when the input ends before the last answer.
    """
    console, total = context.console, len(quiz.questions)
    needed = _needed(quiz, context)
    console.print(
        f"Runbook quiz for {trainee}: {total} questions (seed {quiz.seed}); "
        f"{needed} right answers pass.",
        highlight=False,
    )
    answers: dict[str, str] = {}
    for number, question in enumerate(quiz.questions, start=1):
        _show(question, number, total, console)
        answer = _ask(question, context, answered=number - 1)
        if answer:
            answers[question.id] = answer
    return answers


def show_result(result: QuizResult, console: Console, trainee: str) -> None:
    """The verdict, the score, then each wrong answer with the right one and its source."""
    console.print(
        Text.assemble(
            (str(result.verdict), verdict_style(result.verdict)),
            f"  {trainee}: {result.right} of {len(result.marks)} right "
            f"({result.needed} needed; pass mark {result.pass_mark:.0%})",
        )
    )
    for mark in result.wrong():
        question = mark.question
        lines = [
            f"✗ {question.id}  {question.prompt}",
            f"    answered: {question.describe(mark.given)}",
            f"    right:    {question.right_text}",
            f"    source:   {question.source}",
        ]
        if question.note:
            lines.append(f"    note:     {question.note}")
        console.print("\n".join(lines), markup=False, highlight=False)


def _quiz(bank: QuizBank, seed: int | None, count: int | None, context: CertifyContext) -> Quiz:
    if seed is None:
        seed = random.SystemRandom().randrange(_SEEDS)
    return generate_quiz(bank, seed=seed, count=count or context.settings.quiz_questions)


def _from_file(
    args: argparse.Namespace, bank: QuizBank, context: CertifyContext, trainee: str
) -> tuple[Quiz, dict[str, str]]:
    sheet = read_answer_sheet(args.answers)
    if sheet.trainee is not None and sheet.trainee != trainee:
        raise CertificationError(
            f"{args.answers} holds the answers of {sheet.trainee!r}, not {trainee!r}: "
            "pass that --trainee or fix the file"
        )
    seed = _agree(args.seed, sheet.seed, "seed", args.answers)
    if seed is None:
        raise CertificationError(
            f"{args.answers} does not say which quiz it answers: add `seed = N` (the seed the "
            "questions were printed with) or pass --seed N"
        )
    count = _agree(args.count, sheet.count, "count", args.answers)
    quiz = _quiz(bank, seed, count, context)
    return quiz, check_sheet(sheet, quiz)


def _agree(option: int | None, in_file: int | None, name: str, path: Path) -> int | None:
    if option is not None and in_file is not None and option != in_file:
        raise CertificationError(
            f"--{name} {option} disagrees with {name} = {in_file} in {path}: drop one of them"
        )
    return option if option is not None else in_file


def _show(question: Question, number: int, total: int, console: Console) -> None:
    console.print()
    console.print(Text.assemble((f"{number}/{total} ", "bold"), question.prompt))
    for letter, option in zip(question.letters, question.options, strict=True):
        console.print(f"   {letter}) {option}", markup=False, highlight=False)


def _ask(question: Question, context: CertifyContext, *, answered: int) -> str:
    """One valid answer, or "" after too many invalid ones."""
    for _ in range(_TRIES):
        line = context.console.input(
            f"answer ({question.hint()}): ", markup=False, stream=context.stdin
        )
        if not line:
            raise QuizAbandoned(
                f"the input ended after {answered} of the answers; nothing was recorded. "
                "Answer every question, or use --answers FILE"
            )
        typed = line.strip()
        if not context.stdin.isatty():
            context.console.print(typed, markup=False, highlight=False)  # echo piped answers
        if not typed:
            context.console.print(
                f"  no answer yet: type {question.hint()}", markup=False, highlight=False
            )
            continue
        try:
            return read_answer(question, typed)
        except AnswerInvalid as exc:
            context.console.print(f"  {exc}", markup=False, highlight=False)
    context.console.print(f"  {question.id} left unanswered after {_TRIES} tries")
    return ""


def _needed(quiz: Quiz, context: CertifyContext) -> int:
    return mark_quiz(quiz, {}, pass_mark=context.settings.quiz_pass_mark).needed


def _record(result: QuizResult, context: CertifyContext, trainee: str) -> Path:
    record = GradeRecord(
        trainee=trainee,
        kind=RecordKind.QUIZ,
        drill_id=QUIZ_ID,
        verdict=result.verdict,
        recorded_at=context.clock.wall(),
        variant=f"seed-{result.seed}",
        payload=result.payload(),
    )
    return write_record(context.reports, record)
