"""The plugin as users meet it: toy drills end PASS, FAIL or COULD_NOT_VERIFY, in pytest,
journal.json and JUnit."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import ToyProject


def test_pass_fail_and_could_not_verify(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    result = toy.pytester.runpytest("--drill-report-dir=out", "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=2)
    assert toy.verdicts() == {
        "toy-pass": "PASS",
        "toy-slow": "FAIL",
        "toy-unknown": "COULD_NOT_VERIFY",
    }


def test_a_breach_shows_target_vs_measured(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    result = toy.pytester.runpytest("--drill-report-dir=out", "-k", "breaches")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*shop RTO: measured 20.0s vs target 15.0s -> FAIL*"])


def test_journal_follows_the_contract(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    toy.pytester.runpytest("--drill-report-dir=out", "--drill-run-id=run-1")
    journal = toy.journal()
    assert (journal["run_id"], journal["environment"]) == ("run-1", "sandbox")
    assert journal["started_at"]
    by_id = {s["id"]: s for s in journal["scenarios"]}
    passed = by_id["toy-pass"]
    assert passed["runbook"] == "§9.1"
    assert passed["nodeid"] == "test_toy.py::test_passes"
    rto = passed["objectives"][0]
    assert (rto["name"], rto["target_s"], rto["verdict"]) == ("RTO", 900.0, "PASS")
    # fault at t=0, healthy from t=20, then stable for the 10 s window of the profile
    assert rto["measured_s"] == pytest.approx(30.0, abs=1e-6)
    assert [s["name"] for s in passed["steps"]] == ["Break the flag", "Wait for recovery"]
    assert all(s["started_at"] and s["ended_at"] and s["outcome"] == "ok" for s in passed["steps"])
    assert [r["outcome"] for r in passed["rollbacks"]] == ["done"]
    assert by_id["toy-slow"]["objectives"][0]["target_s"] == 15.0


def test_journal_records_who_ran_it_and_with_what(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    toy.pytester.runpytest(
        "--drill-report-dir=out",
        "-k",
        "passes",
        "--drill-operator=ana",
        "--drill-approved-by=ben",
        "--drill-ticket=CHG-7",
    )
    provenance = toy.journal()["provenance"]
    assert (provenance["operator"], provenance["approved_by"], provenance["ticket"]) == (
        "ana",
        "ben",
        "CHG-7",
    )
    assert provenance["profile_path"].endswith("fixtures/environments/sandbox.toml")
    assert len(provenance["profile_sha256"]) == 64
    assert provenance["drills_version"]
    assert provenance["host"]
    assert provenance["git_commit"]


def test_junit_properties_carry_measured_and_target(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    toy.pytester.runpytest("--drill-report-dir=out", "--junitxml=junit.xml")
    props = toy.junit_properties()
    assert props["test_passes"]["verdict"] == "PASS"
    assert props["test_passes"]["rto_measured_s"] == "30.000"
    assert props["test_passes"]["rto_target_s"] == "900"
    assert props["test_passes"]["rpo_target_s"] == "300"
    assert props["test_passes"]["rpo_measured_s"] == ""
    assert props["test_breaches_rto"]["verdict"] == "FAIL"
    assert props["test_breaches_rto"]["rto_target_s"] == "15"
    assert props["test_cannot_verify"]["verdict"] == "COULD_NOT_VERIFY"


def test_every_rollback_ran_and_nothing_is_pending(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    toy.pytester.runpytest("--drill-report-dir=out")
    assert (toy.path / "pass.rolled-back").exists()
    assert (toy.path / "slow.rolled-back").exists()
    assert toy.pending() == []
    assert (toy.path / "out" / "rollbacks.jsonl").exists()


def test_non_drill_sessions_write_no_report(toy: ToyProject) -> None:
    toy.pytester.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")
    toy.pytester.runpytest().assert_outcomes(passed=1)
    assert not (toy.path / "reports").exists()
    assert not (toy.path / ".drills").exists()
