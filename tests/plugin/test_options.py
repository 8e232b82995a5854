"""Each setting works from the command line and from the ini file; bad values are usage errors."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import ToyProject

FAST_PROFILE = """
name = "fast"
[services.shop]
rto = "25s"
rpo = "1s"
"""


def run(toy: ToyProject, how: str, cli: list[str], ini: list[str]) -> pytest.RunResult:
    toy.add("toy_drills.py", "test_toy.py")
    if how == "ini":
        toy.pytester.makeini("[pytest]\n" + "\n".join(ini) + "\n")
        return toy.pytester.runpytest("-k", "passes")
    return toy.pytester.runpytest("-k", "passes", *cli)


@pytest.mark.parametrize("how", ["cli", "ini"])
def test_report_dir(toy: ToyProject, how: str) -> None:
    run(toy, how, ["--drill-report-dir=elsewhere"], ["drill_report_dir = elsewhere"])
    assert toy.verdicts("elsewhere") == {"toy-pass": "PASS"}


@pytest.mark.parametrize("how", ["cli", "ini"])
def test_env(toy: ToyProject, how: str) -> None:
    (toy.path / "fixtures" / "environments" / "fast.toml").write_text(FAST_PROFILE)
    both = ["--drill-env=fast", "--drill-report-dir=out"]
    result = run(toy, how, both, ["drill_env = fast", "drill_report_dir = out"])
    result.assert_outcomes(failed=1)  # 30 s measured against the profile's 25 s
    journal = toy.journal()
    assert journal["environment"] == "fast"
    assert journal["scenarios"][0]["objectives"][0]["target_s"] == 25.0


@pytest.mark.parametrize("how", ["cli", "ini"])
def test_objective(toy: ToyProject, how: str) -> None:
    cli = [
        "--drill-objective=shop.rto=29s",
        "--drill-objective",
        "shop.rpo=0s",
        "--drill-report-dir=out",
    ]
    ini = ["drill_objectives =\n    shop.rto=29s\n    shop.rpo=0s", "drill_report_dir = out"]
    result = run(toy, how, cli, ini)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*shop RTO: measured 30.0s vs target 29.0s -> FAIL*"])


def test_cli_beats_ini(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    toy.pytester.makeini("[pytest]\ndrill_objectives = shop.rto=1s\ndrill_report_dir = out\n")
    result = toy.pytester.runpytest("-k", "passes", "--drill-objective=shop.rto=1h")
    result.assert_outcomes(passed=1)


def test_marker_beats_cli(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    result = toy.pytester.runpytest("-k", "breaches", "--drill-objective=shop.rto=1h")
    result.assert_outcomes(failed=1)  # the marker's rto="15s" wins


def test_fixture_override_beats_cli(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    (toy.path / "test_toy.py").write_text(
        (toy.path / "test_toy.py").read_text()
        + "\n\n@pytest.fixture\ndef drill_objectives():\n    return ['shop.rto=5s']\n"
    )
    result = toy.pytester.runpytest("-k", "passes", "--drill-objective=shop.rto=1h")
    result.assert_outcomes(failed=1)


@pytest.mark.parametrize("how", ["cli", "ini"])
def test_dry_run(toy: ToyProject, how: str) -> None:
    result = run(toy, how, ["--drill-dry-run"], ["drill_dry_run = true"])
    result.assert_outcomes(skipped=1)


def test_run_id_and_header(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    result = toy.pytester.runpytest("-k", "passes", "--drill-run-id=q3-drill")
    result.stdout.fnmatch_lines(
        [
            "drills: env=sandbox run-id=q3-drill dry-run=no *",
            "drills: profile sandbox (*sandbox.toml): shop RTO 15m RPO 5m, notes RTO 15m RPO 5m, "
            "database RTO 1h RPO 15m",
        ]
    )
    assert toy.verdicts("reports/q3-drill") == {"toy-pass": "PASS"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--drill-objective=shop=15m"], "*SERVICE.rto=DURATION*"),
        (["--drill-objective=shop.rto=soon"], "*not a duration*"),
        (["--drill-env=nowhere"], "*no environment profile 'nowhere'*available: sandbox*"),
        (["--drill-run-id=../escape"], "*--drill-run-id*"),
        (["--drill-id=toy-nope"], "*unknown drill id(s): toy-nope; known: toy-pass, toy-slow*"),
    ],
)
def test_bad_values_are_usage_errors(toy: ToyProject, args: list[str], message: str) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    result = toy.pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_invalid_profile_is_a_usage_error(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    (toy.path / "fixtures" / "environments" / "sandbox.toml").write_text(
        "[services.shop]\nrto = 1\nrtp = 2\n"
    )
    result = toy.pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*key 'services.shop.rtp' is not a known key (did you mean 'rto'?)*"]
    )


def test_select_by_drill_id(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    result = toy.pytester.runpytest("--drill-id=toy-pass", "--drill-report-dir=out")
    result.assert_outcomes(passed=1, deselected=2)


def test_hooks_see_steps_and_records(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    (toy.path / "conftest.py").write_text(
        (toy.path / "conftest.py").read_text()
        + """
SEEN = []

def pytest_drills_session_started(events, run_id, environment):
    SEEN.append(("session", run_id, environment))

def pytest_drills_step_finished(step):
    SEEN.append(("step", step.name, str(step.outcome)))

def pytest_drills_drill_finished(record):
    SEEN.append(("drill", record.id, str(record.verdict)))

def pytest_sessionfinish(session):
    print("SEEN", SEEN)
"""
    )
    result = toy.pytester.runpytest("-s", "-k", "passes", "--drill-run-id=r1")
    result.stdout.fnmatch_lines(
        [
            "*SEEN [[]('session', 'r1', 'sandbox'), ('step', 'Break the flag', 'ok'), "
            "('step', 'Wait for recovery', 'ok'), ('drill', 'toy-pass', 'PASS')[]]"
        ]
    )


def test_drill_fixture_without_marker_fails_clearly(toy: ToyProject) -> None:
    toy.pytester.makepyfile(test_nomark="def test_x(drill):\n    pass\n")
    result = toy.pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*uses the `drill` fixture without @pytest.mark.drill*"])


def test_bad_marker_fails_clearly(toy: ToyProject) -> None:
    toy.pytester.makepyfile(
        test_badmark="import pytest\n\n@pytest.mark.drill(id='x', service='shop')\n"
        "def test_x(drill):\n    pass\n"
    )
    result = toy.pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*missing [[]'runbook'[]]*"])


def test_drill_profile_fixture_gives_the_effective_profile(toy: ToyProject) -> None:
    toy.pytester.makepyfile(
        test_profile="""
def test_profile(drill_profile):
    assert drill_profile.name == "sandbox"
    assert drill_profile.service("shop").rto_s == 42.0
    assert drill_profile.targets.kind == "sandbox"
"""
    )
    toy.pytester.runpytest("--drill-objective=shop.rto=42s").assert_outcomes(passed=1)


def test_drill_endpoints_fixture_says_how_to_bring_the_sandbox_up(toy: ToyProject) -> None:
    toy.pytester.makepyfile(test_endpoints="def test_x(drill_endpoints):\n    pass\n")
    result = toy.pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*endpoints.json does not exist*run `drills sandbox up`*"])
