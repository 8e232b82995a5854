"""`drills certify quiz|record|signoff` in process: exit codes, output, records, clear errors."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from drills.certification.bank import load_bank
from drills.certification.quiz import Quiz, generate_quiz
from drills.certification.record import GradeRecord, RecordKind
from drills.certification.records import write_record
from drills.certification.standing import REQUIRED
from drills.cli import build_parser, main
from drills.cli.certify import certify_command
from drills.cli.paths import ProjectPaths
from drills.core.clock import FakeClock
from drills.core.objectives import Verdict

WALL = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
QUIZ = generate_quiz(load_bank(), seed=42, count=10)


def certify(root: Path, *words: str, stdin: str = "") -> tuple[int, str]:
    args = build_parser().parse_args(["--root", str(root), "certify", *words])
    out = io.StringIO()
    console = Console(file=out, width=220, soft_wrap=True, color_system=None)
    code = certify_command(
        args,
        ProjectPaths(root),
        console,
        stdin=io.StringIO(stdin),
        clock=FakeClock(wall_start=WALL),
    )
    return code, out.getvalue()


def answers_file(root: Path, quiz: Quiz, answers: dict[str, str], **top: object) -> Path:
    path = root / "answers.json"
    path.write_text(json.dumps({"seed": quiz.seed, **top, "answers": answers}))
    return path


def grade_of(root: Path, trainee: str = "alice") -> dict[str, object]:
    [path] = (root / "reports" / "certification" / trainee).glob("*/grade.json")
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_certify_lists_its_actions_and_needs_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["certify", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for action in ("quiz", "record", "signoff"):
        assert action in text
    with pytest.raises(SystemExit) as done:
        main(["certify"])
    assert done.value.code == 2


def test_all_right_answers_pass_and_are_recorded(tmp_path: Path) -> None:
    path = answers_file(tmp_path, QUIZ, {q.id: q.right for q in QUIZ.questions})
    code, out = certify(tmp_path, "quiz", "--trainee", "alice", "--answers", str(path))
    assert code == 0, out
    assert "PASS  alice: 10 of 10 right (8 needed; pass mark 80%)" in out
    run_dir = tmp_path / "reports" / "certification" / "alice" / "20260201T080000Z-quiz"
    assert f"grade: {run_dir / 'grade.html'}" in out
    grade = grade_of(tmp_path)
    assert (grade["verdict"], grade["variant"], grade["drill_id"]) == ("PASS", "seed-42", "quiz")


def test_wrong_answers_fail_naming_the_right_answer_and_its_source(tmp_path: Path) -> None:
    answers = {q.id: q.right for q in QUIZ.questions}
    wrong = QUIZ.questions[:3]
    for q in wrong:
        answers[q.id] = "12345" if q.value is not None else _other(q.right, q.letters)
    path = answers_file(tmp_path, QUIZ, answers)
    code, out = certify(tmp_path, "quiz", "--trainee", "alice", "--answers", str(path))
    assert code == 1
    assert "FAIL  alice: 7 of 10 right (8 needed" in out
    for q in wrong:
        assert f"✗ {q.id}  {q.prompt}" in out
        assert f"right:    {q.right_text}" in out
        assert f"source:   {q.source}" in out
    assert grade_of(tmp_path)["verdict"] == "FAIL"


def _other(right: str, letters: tuple[str, ...]) -> str:
    if "," in right:
        return ",".join(reversed(right.split(",")))
    return next(letter for letter in letters if letter != right)


def test_printed_questions_filled_in_pass(tmp_path: Path) -> None:
    code, template = certify(tmp_path, "quiz", "--print-questions", "--seed", "42", "--count", "10")
    assert code == 0
    for q in QUIZ.questions:
        template = template.replace(f'{q.id} = ""', f'{q.id} = "{q.right}"')
    path = tmp_path / "answers.toml"
    path.write_text(template)
    code, out = certify(tmp_path, "quiz", "--trainee", "alice", "--answers", str(path))
    assert code == 0, out
    assert not (tmp_path / "reports" / "certification" / "nobody").exists()


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        ({"answers": {}}, (), "does not say which quiz it answers: add `seed = N`"),
        ({"seed": 42, "answers": {}}, ("--seed", "7"), "--seed 7 disagrees with seed = 42"),
        ({"seed": 42, "trainee": "bob", "answers": {}}, (), "holds the answers of 'bob'"),
        ({"seed": 42, "answers": {"q11": "a"}}, (), "q11: no such question"),
        ({"seed": 42}, (), "it has no answers table"),
    ],
)
def test_an_answers_file_that_does_not_fit_is_a_usage_error(
    tmp_path: Path, content: dict[str, object], options: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(content))
    code, out = certify(tmp_path, "quiz", "--trainee", "alice", "--answers", str(path), *options)
    assert code == 2
    assert message in out
    assert not (tmp_path / "reports").exists()


def test_the_quiz_needs_a_valid_trainee(tmp_path: Path) -> None:
    code, out = certify(tmp_path, "quiz", "--seed", "1")
    assert code == 2
    assert "error: --trainee NAME is needed to record a quiz" in out
    code, out = certify(tmp_path, "quiz", "--trainee", "Alice", "--seed", "1")
    assert code == 2
    assert "trainee name 'Alice' is not allowed" in out
    assert "^[a-z][a-z0-9_-]{0,31}$" in out


def test_the_terminal_quiz_reads_stdin_and_asks_again_after_a_typo(tmp_path: Path) -> None:
    quiz = generate_quiz(load_bank(), seed=3, count=3)
    lines = ["", "not-an-answer", *(q.right for q in quiz.questions)]
    code, out = certify(
        tmp_path,
        "quiz",
        "--trainee",
        "alice",
        "--seed",
        "3",
        "--count",
        "3",
        stdin="\n".join(lines) + "\n",
    )
    assert code == 0, out
    assert "Runbook quiz for alice: 3 questions (seed 3); 3 right answers pass." in out
    assert "no answer yet: type" in out
    assert (
        f"'not-an-answer' {'does not use' if ',' in quiz.questions[0].right else 'is not'}" in out
    )
    assert f"1/3 {quiz.questions[0].prompt}" in out
    assert "PASS  alice: 3 of 3 right" in out


def test_a_terminal_quiz_cut_short_records_nothing(tmp_path: Path) -> None:
    code, out = certify(tmp_path, "quiz", "--trainee", "alice", "--seed", "3", stdin="a\n")
    assert code == 2
    assert "the input ended after" in out
    assert "nothing was recorded" in out
    assert not (tmp_path / "reports").exists()


def test_record_of_a_new_trainee_lists_everything_missing(tmp_path: Path) -> None:
    code, out = certify(tmp_path, "record", "--trainee", "alice")
    assert code == 1
    assert "certification of alice (a PASS counts for 90d)" in out
    for requirement in REQUIRED:
        assert requirement.label() in out
    assert f"alice is not certified: {len(REQUIRED)} of {len(REQUIRED)} requirements" in out


def test_signoff_and_quiz_show_in_the_record_with_their_due_dates(tmp_path: Path) -> None:
    code, out = certify(
        tmp_path, "signoff", "--trainee", "alice", "--by", "Dana Lee", "--note", "two P1 incidents"
    )
    assert code == 0
    assert "signed off by Dana Lee" in out
    assert grade_of(tmp_path)["payload"] == {"by": "Dana Lee", "note": "two P1 incidents"}
    path = answers_file(tmp_path, QUIZ, {q.id: q.right for q in QUIZ.questions})
    assert certify(tmp_path, "quiz", "--trainee", "alice", "--answers", str(path))[0] == 0
    code, out = certify(tmp_path, "record", "--trainee", "alice")
    assert code == 1
    quiz_row = next(line for line in out.splitlines() if " quiz " in f" {line} ")
    assert "certified" in quiz_row
    assert "2026-02-01 seed-42" in quiz_row
    assert "2026-05-02" in quiz_row  # due 90 days later
    shadow_row = next(line for line in out.splitlines() if "shadow-responders" in line)
    assert "certified" in shadow_row
    assert "never" in shadow_row


def test_every_requirement_passed_is_certified_with_exit_0(tmp_path: Path) -> None:
    for n, requirement in enumerate(REQUIRED):
        write_record(
            tmp_path / "reports",
            GradeRecord(
                trainee="alice",
                kind=requirement.kind,
                drill_id=requirement.id,
                verdict=Verdict.PASS,
                recorded_at=WALL - timedelta(days=10 + n),
                variant=requirement.variants[0] if requirement.variants else "",
            ),
        )
    code, out = certify(tmp_path, "record", "--trainee", "alice")
    assert code == 0, out
    # the earliest PASS that expires is the quiz's, 20 days old: due in 70 days
    assert f"alice is certified until {WALL + timedelta(days=70):%Y-%m-%d}." in out


def test_a_failed_later_attempt_shows_beside_the_pass(tmp_path: Path) -> None:
    for day, verdict in ((0, Verdict.PASS), (1, Verdict.FAIL)):
        write_record(
            tmp_path / "reports",
            GradeRecord(
                trainee="alice",
                kind=RecordKind.PRACTICAL,
                drill_id="pitr",
                verdict=verdict,
                recorded_at=WALL - timedelta(days=5 - day),
                variant="inplace",
            ),
        )
    _code, out = certify(tmp_path, "record", "--trainee", "alice")
    row = next(line for line in out.splitlines() if " pitr " in line)
    assert "certified" in row
    assert "FAIL" in row
    assert "2026-01-28 inplace" in row


def test_signoff_refuses_self_and_empty_text(tmp_path: Path) -> None:
    code, out = certify(tmp_path, "signoff", "--trainee", "alice", "--by", "alice", "--note", "x")
    assert code == 2
    assert "cannot sign off their own shadowing" in out
    code, out = certify(tmp_path, "signoff", "--trainee", "alice", "--by", "Dana", "--note", "  ")
    assert code == 2
    assert "--note needs which incidents or drills were shadowed" in out


def test_reports_dir_moves_the_records(tmp_path: Path) -> None:
    elsewhere = tmp_path / "records"
    code, _ = certify(
        tmp_path,
        "signoff",
        "--trainee",
        "bob",
        "--by",
        "Dana",
        "--note",
        "x",
        "--reports-dir",
        str(elsewhere),
    )
    assert code == 0
    assert list((elsewhere / "certification" / "bob").glob("*/grade.json"))
