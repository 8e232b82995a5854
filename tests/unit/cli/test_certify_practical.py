"""The practical's actions without an environment: the session files and the clear refusals."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from drills.certification.errors import CertificationError
from drills.certification.practicals import practical_for
from drills.certification.session import Announcement, SessionFiles, SessionState, TraineeEvent
from drills.cli import build_parser
from drills.cli.certify import certify_command
from drills.cli.certify_practical import _aws_line
from drills.cli.paths import ProjectPaths
from drills.core.clock import FakeClock

WALL = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[3]


def certify(root: Path, *words: str) -> tuple[int, str]:
    args = build_parser().parse_args(["--root", str(root), "certify", *words])
    out = io.StringIO()
    console = Console(file=out, width=220, soft_wrap=True, color_system=None)
    code = certify_command(args, ProjectPaths(root), console, clock=FakeClock(wall_start=WALL))
    return code, out.getvalue()


def _state(**changes: object) -> SessionState:
    fields: dict[str, object] = {
        "trainee": "alice",
        "drill_id": "crashloop-rollback",
        "variant": "bad-image",
        "env": "sandbox",
        "run_id": "20260201T080000Z",
        "report_dir": "/tmp/run",
        "started_at": WALL.isoformat(),
    }
    fields.update(changes)
    return SessionState(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("action", ["status", "ack", "finish", "abort"])
def test_every_action_without_a_practical_says_how_to_start_one(
    tmp_path: Path, action: str
) -> None:
    code, out = certify(tmp_path, action)
    assert code == 2
    assert "no practical is running" in out
    assert "drills certify start DRILL --trainee NAME --random" in out


def test_a_second_start_is_refused_naming_the_running_practical(tmp_path: Path) -> None:
    files = SessionFiles.of(tmp_path)
    files.create(_state())
    with pytest.raises(CertificationError, match="already running: crashloop-rollback for alice"):
        files.create(_state(trainee="bob"))


def test_start_refuses_an_unknown_drill_and_a_bad_trainee_name(tmp_path: Path) -> None:
    code, out = certify(tmp_path, "start", "no-such-drill", "--trainee", "alice")
    assert code == 2
    assert "no-such-drill" in out
    code, out = certify(tmp_path, "start", "crashloop-rollback", "--trainee", "Alice!")
    assert code == 2
    assert "Alice!" in out


def test_start_refuses_an_unknown_variant_listing_the_valid_ones(tmp_path: Path) -> None:
    code, out = certify(
        tmp_path, "start", "crashloop-rollback", "--trainee", "alice", "--variant", "nope"
    )
    assert code == 2
    assert "no variant 'nope'" in out


def test_the_trainee_records_land_in_order_with_their_times(tmp_path: Path) -> None:
    files = SessionFiles.of(tmp_path)
    files.create(_state())
    notice = tmp_path / "notice.txt"
    notice.write_text("Incident: shop down\nSeverity: P1\n")
    assert certify(tmp_path, "ack")[0] == 0
    assert certify(tmp_path, "page", "--level", "2")[0] == 0
    assert certify(tmp_path, "notice", str(notice))[0] == 0
    kinds = [(e.kind, e.level) for e in files.trainee_events()]
    assert kinds == [("ack", None), ("page", 2), ("notice", None)]
    assert files.trainee_events()[2].text.startswith("Incident: shop down")
    assert all(e.at_wall().tzinfo is not None for e in files.trainee_events())


def test_an_empty_or_missing_notice_is_refused(tmp_path: Path) -> None:
    SessionFiles.of(tmp_path).create(_state())
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    code, out = certify(tmp_path, "notice", str(empty))
    assert (code, "is empty; write the notice first" in out) == (2, True)
    code, out = certify(tmp_path, "postmortem", str(tmp_path / "missing.md"))
    assert (code, "cannot read" in out) == (2, True)


def test_page_level_one_is_not_an_escalation(tmp_path: Path) -> None:
    SessionFiles.of(tmp_path).create(_state())
    code, out = certify(tmp_path, "page", "--level", "1")
    assert code == 2
    assert "2 or more" in out


def test_status_shows_the_page_the_clock_and_the_budgets_not_the_variant(tmp_path: Path) -> None:
    profiles = tmp_path / "fixtures" / "environments"
    profiles.mkdir(parents=True)
    shutil.copy2(REPO / "fixtures" / "environments" / "sandbox.toml", profiles)
    files = SessionFiles.of(tmp_path)
    files.create(_state(time_scale=0.1))
    files.announce(Announcement(WALL.isoformat(), "PodCrashLooping P1: shop pods restarting"))
    files.record(TraineeEvent("ack", WALL.isoformat()))
    code, out = certify(tmp_path, "status")
    assert code == 0
    assert "PodCrashLooping P1: shop pods restarting" in out
    assert "acknowledge: within 30 s" in out  # 5 min at time scale 0.1
    assert "bad-image" not in out  # the variant stays hidden until the grade
    assert "the proctor is not running" in out


def test_an_unknown_event_kind_is_refused(tmp_path: Path) -> None:
    files = SessionFiles.of(tmp_path)
    files.create(_state())
    with pytest.raises(CertificationError, match="unknown event"):
        files.record(TraineeEvent("coffee", WALL.isoformat()))


def test_a_practical_without_a_proctor_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """A project whose practicals.py lacks a drill's proctor (every drill of this repo has one)."""
    shutil.copytree(REPO / "fixtures" / "environments", tmp_path / "fixtures" / "environments")
    shutil.copy(REPO / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "fixtures" / "practicals.py").write_text(
        "from fixtures.practical_crashloop import test_crashloop_rollback\n\n"
        '__all__ = ["test_crashloop_rollback"]\n'
    )
    code, out = certify(tmp_path, "start", "pitr", "--trainee", "alice", "--variant", "bad-update")
    assert code == 2
    assert "the pitr practical is graded but has no proctor yet" in out
    assert "crashloop-rollback" in out  # what can be started instead


def test_the_page_says_how_to_reach_aws_only_where_the_steps_read_it(tmp_path: Path) -> None:
    """snapshot-restore fetches the newest dump from S3: moto, signed with the trainee's own key."""
    profiles = tmp_path / "fixtures" / "environments"
    profiles.mkdir(parents=True)
    shutil.copy(REPO / "fixtures" / "environments" / "sandbox.toml", profiles)
    endpoints = tmp_path / ".drills" / "sandbox" / "endpoints.json"
    endpoints.parent.mkdir(parents=True)
    endpoints.write_text('{"aws_endpoint": "http://127.0.0.1:41234"}')
    paths = ProjectPaths(tmp_path)
    restore = _state(drill_id="snapshot-restore", variant="drop-table")
    line = _aws_line(paths, practical_for("snapshot-restore"), restore)
    assert line == (
        "export AWS_ACCESS_KEY_ID=drills-trainee-alice AWS_SECRET_ACCESS_KEY=testing "
        "AWS_DEFAULT_REGION=us-east-1; aws --endpoint-url http://127.0.0.1:41234 s3 ls"
    )
    assert _aws_line(paths, practical_for("crashloop-rollback"), _state()) is None
