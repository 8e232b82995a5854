"""The `drills` command in process: parsing, placeholders, root finding, rollback replay."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from drills.cli import build_parser, main
from drills.cli.paths import ProjectPaths, find_root
from drills.cli.rollback import replay
from drills.cli.run import RunRequest, plugin_args
from drills.core.safety import RollbackEntry, RollbackLedger, RollbackRegistry
from drills.faults.registry import default_registry, restore_file_entry

REPO = Path(__file__).resolve().parents[3]


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, soft_wrap=True), out


def test_help_works(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for command in ("list", "run", "rollback", "sandbox", "report", "history", "certify"):
        assert command in text


def test_certify_without_an_action_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["certify"])
    assert done.value.code == 2
    assert "ACTION" in capsys.readouterr().err


def test_run_arguments_become_plugin_options() -> None:
    args = build_parser().parse_args(
        [
            "run",
            "a",
            "b",
            "--env",
            "staging",
            "--objective",
            "shop.rto=1m",
            "--dry-run",
            "-m",
            "gate",
        ]
    )
    request = RunRequest(
        ids=tuple(args.ids),
        env=args.env,
        objectives=tuple(args.objective),
        dry_run=args.dry_run,
        markexpr=args.markexpr,
    )
    assert plugin_args(request) == [
        "--drill-env=staging",
        "--drill-objective=shop.rto=1m",
        "--drill-id=a",
        "--drill-id=b",
        "--drill-dry-run",
        "-m",
        "gate",
    ]


def test_run_metadata_becomes_plugin_options() -> None:
    args = build_parser().parse_args(
        ["run", "--operator", "ana", "--approved-by", "ben", "--ticket", "CHG-7"]
    )
    request = RunRequest(operator=args.operator, approved_by=args.approved_by, ticket=args.ticket)
    assert plugin_args(request)[-3:] == [
        "--drill-operator=ana",
        "--drill-approved-by=ben",
        "--drill-ticket=CHG-7",
    ]
    assert not any("operator" in arg for arg in plugin_args(RunRequest()))


def _project_without_scenarios(root: Path) -> None:
    """An empty scenarios/ and the sandbox profile: enough for `drills run` to start."""
    (root / "scenarios").mkdir()
    profiles = root / "fixtures" / "environments"
    profiles.mkdir(parents=True)
    shutil.copy(REPO / "fixtures" / "environments" / "sandbox.toml", profiles)


def test_no_scenarios_means_exit_3_for_run(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    _project_without_scenarios(tmp_path)
    assert main(["--root", str(tmp_path), "run"]) == 3
    assert "No drills yet" in capfd.readouterr().out


def test_bad_objective_is_reported_before_anything_else(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    _project_without_scenarios(tmp_path)
    assert main(["--root", str(tmp_path), "run", "--objective", "shop.rto=soon"]) == 2
    assert "not a duration: 'soon'" in capfd.readouterr().out


def test_find_root_walks_up(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_root(deep) == tmp_path.resolve()
    assert ProjectPaths(tmp_path).ledger == tmp_path / ".drills" / "rollbacks.jsonl"


def test_sandbox_status_of_a_project_without_one_says_so(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    assert main(["--root", str(tmp_path), "sandbox", "status"]) == 0
    assert "sandbox: not running" in capfd.readouterr().out


def test_replay_undoes_pending_entries_oldest_first(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    undone: list[str] = []
    registry = RollbackRegistry()
    registry.register("toy", lambda entry: undone.append(entry.target))
    for target in ("first", "second"):
        ledger.record(RollbackEntry("toy", target))
    out_console, out = console()
    assert replay(ledger.path, out_console, registry=registry) == 0
    assert undone == ["first", "second"]
    assert ledger.pending() == []
    assert out.getvalue().count("toy first: restored") == 1
    assert out.getvalue().count(": restored") == 2


def test_replay_dry_run_changes_nothing(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    ledger.record(RollbackEntry("toy", "x"))
    out_console, out = console()
    assert replay(ledger.path, out_console, registry=RollbackRegistry(), dry_run=True) == 0
    assert "toy x: pending, would replay" in out.getvalue()
    assert len(ledger.pending()) == 1


def test_replay_reports_failures_and_keeps_them_pending(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    registry = RollbackRegistry()

    def broken(entry: RollbackEntry) -> None:
        raise RuntimeError("API unreachable")

    registry.register("toy", broken)
    ledger.record(RollbackEntry("toy", "x"))
    out_console, out = console()
    assert replay(ledger.path, out_console, registry=registry) == 1
    assert "RuntimeError: API unreachable" in out.getvalue()
    assert len(ledger.pending()) == 1


def test_restore_file_kind_puts_content_back_or_removes(tmp_path: Path) -> None:
    registry = default_registry(plugins=False)
    existing = tmp_path / "config"
    existing.write_text("broken")
    registry.run(restore_file_entry(existing, "good"))
    assert existing.read_text() == "good"
    created = tmp_path / "ballast"
    created.write_text("x" * 10)
    registry.run(restore_file_entry(created, None))
    assert not created.exists()
