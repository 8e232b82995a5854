"""Rollbacks run whatever ends the drill: an exception, Ctrl-C, SIGTERM; the ledger agrees."""

from __future__ import annotations

from tests.plugin.conftest import ToyProject


def test_rollback_after_an_exception(toy: ToyProject) -> None:
    toy.add("crashing_drills.py", "test_crash.py")
    result = toy.pytester.runpytest("--drill-report-dir=out", "-k", "exception")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: the harness broke mid-drill*"])
    assert (toy.path / "crash.flag").read_text() == "up"
    assert (toy.path / "crash.rolled-back").exists()
    assert toy.pending() == []
    record = toy.journal()["scenarios"][0]
    assert record["verdict"] == "ERROR"
    assert record["rollbacks"][0]["outcome"] == "done"


def test_rollback_after_keyboard_interrupt(toy: ToyProject) -> None:
    toy.add("crashing_drills.py", "test_crash.py")
    result = toy.pytester.runpytest(
        "--drill-report-dir=out", "-k", "keyboard", no_reraise_ctrlc=True
    )
    assert result.ret == 2  # pytest's "interrupted"
    assert (toy.path / "interrupt.flag").read_text() == "up"
    assert (toy.path / "interrupt.rolled-back").exists()
    assert toy.pending() == []
    assert toy.verdicts() == {"toy-interrupt": "ERROR"}


def test_rollback_after_sigterm(toy: ToyProject) -> None:
    toy.add("crashing_drills.py", "test_crash.py")
    result = toy.pytester.runpytest_subprocess("--drill-report-dir=out", "-k", "sigterm")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*SIGTERM*"])
    assert (toy.path / "term.flag").read_text() == "up"
    assert (toy.path / "term.rolled-back").exists()
    assert toy.pending() == []


def test_dry_run_acts_on_nothing_and_skips(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    result = toy.pytester.runpytest("--drill-report-dir=out", "--drill-dry-run", "-k", "passes")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*[[]dry-run[]] would inject: flip pass.flag*"])
    assert not (toy.path / "pass.flag").exists()
    assert not (toy.path / ".drills" / "rollbacks.jsonl").exists()
    record = toy.journal()["scenarios"][0]
    assert record["verdict"] == "COULD_NOT_VERIFY"
    assert record["faults"][0]["dry_run"] is True
