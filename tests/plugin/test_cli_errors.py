"""Expected errors reach the user as one message with its fix and exit 2; bugs say they are bugs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import drills.cli as cli
from drills.cli.failure import BUG_LINE, EXIT_BUG
from tests.plugin.conftest import ToyProject, toy_cli_project

# Runs `drills ...` with the sandbox's start made impossible: should the reachability check not
# fire first, the command fails loudly instead of starting a sandbox.
_NO_SANDBOX = """
import sys
from drills.sandbox import control
def refuse(*args, **kwargs):
    raise SystemExit("TEST GUARD: the sandbox would have been started")
control.binaries = control.down = refuse
from drills.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


@pytest.fixture
def locked_clone(tmp_path: Path) -> Path:
    """A project under a directory only its owner (root) may traverse."""
    if os.geteuid() != 0:
        pytest.skip("PostgreSQL runs as this user when not root: there is no traverse check")
    locked = tmp_path / "home"
    locked.mkdir(mode=0o700)
    locked.chmod(0o700)
    return toy_cli_project(locked / "clone")


@pytest.mark.parametrize("command", [("run", "--dry-run"), ("sandbox", "up")])
def test_untraversable_clone_is_one_config_error_with_its_fix(
    locked_clone: Path, command: tuple[str, ...]
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _NO_SANDBOX, "--root", str(locked_clone), *command],
        cwd=locked_clone,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert f"{locked_clone.parent} is not traversable by other users" in output
    assert f"Fix: `chmod o+x {locked_clone.parent}`" in output
    assert "Traceback" not in output
    assert "TEST GUARD" not in output
    assert not (locked_clone / ".drills" / "sandbox").exists()


def test_an_unexpected_exception_is_reported_as_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    project = toy_cli_project(tmp_path)

    def broken(*args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "list_drills", broken)
    assert cli.main(["--root", str(project), "list"]) == EXIT_BUG
    out, err = capfd.readouterr()
    assert "Traceback" in err
    assert "RuntimeError: boom" in err
    assert BUG_LINE in out


def test_a_config_error_from_deep_inside_a_command_is_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from drills.core.errors import ConfigError

    project = toy_cli_project(tmp_path)

    def refused(*args: object) -> int:
        raise ConfigError.bad_key("x.toml", "a.b", "is wrong", "set it right")

    monkeypatch.setattr(cli, "list_drills", refused)
    assert cli.main(["--root", str(project), "list"]) == 2
    out, err = capfd.readouterr()
    assert "error: x.toml: key 'a.b' is wrong. Fix: set it right" in out
    assert "Traceback" not in out + err


def test_a_bad_option_is_a_usage_error_not_an_internal_error(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    result = toy.pytester.runpytest("--drill-objective=shop.rto=banana")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert "INTERNALERROR" not in output
    assert "Traceback" not in output


def test_an_expected_error_while_configuring_is_a_usage_error(toy: ToyProject) -> None:
    toy.add("toy_drills.py", "test_toy.py")
    toy.pytester.makeconftest(
        """
        from drills.core.errors import SafetyViolation
        from drills.pytest_plugin.context import DrillContext

        def refuse(self):
            raise SafetyViolation("kube context 'prod' is not allowed. Fix: use staging")

        DrillContext.preload_profile = refuse
        """
    )
    result = toy.pytester.runpytest_subprocess()
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert "kube context 'prod' is not allowed. Fix: use staging" in output
    assert "INTERNALERROR" not in output
    assert "Traceback" not in output


def test_a_config_error_in_a_fixture_is_its_message_without_traceback(toy: ToyProject) -> None:
    toy.pytester.makepyfile(
        test_fixture_error="""
        import pytest
        from drills.core.errors import ConfigError

        @pytest.fixture
        def broken():
            raise ConfigError("fixtures/x.toml: key 'y' is missing. Fix: add y = 1")

        def test_uses_it(broken):
            pass
        """
    )
    result = toy.pytester.runpytest()
    output = result.stdout.str()
    result.assert_outcomes(errors=1)
    assert "ConfigError: fixtures/x.toml: key 'y' is missing. Fix: add y = 1" in output
    assert "raise ConfigError" not in output
