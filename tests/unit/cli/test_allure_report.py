"""`drills report --allure` without the real Allure: finding it, what it is told, what it says.

Fake `allure` and `java` executables in a directory that is the whole PATH stand in for the
real ones (tests/plugin/test_allure_report.py runs the real command line).
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest
from rich.console import Console

from drills.cli import main
from drills.cli.allure_report import generate_allure_report
from drills.cli.allure_tool import allure_cache_dir, fetch_allure, find_allure
from drills.core.clock import SystemClock
from drills.core.errors import ConfigError
from drills.core.objectives import Verdict
from drills.core.waiting import wait_until
from tests.unit.cli.test_evidence import write_run

FAKE_ALLURE = """#!/bin/sh
if [ "$1" = "--version" ]; then echo "{version}"; exit 0; fi
echo "$@" > "{record}"
echo "ALLURE_NO_ANALYTICS=$ALLURE_NO_ANALYTICS" >> "{record}"
{body}
"""
WRITES_INDEX = 'shift 4; /bin/mkdir -p "$1"; echo "<html></html>" > "$1/index.html"'
HANGS = '/bin/sleep 300 & echo $! > "{child}.tmp"; /bin/mv "{child}.tmp" "{child}"; /bin/sleep 300'


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=300, soft_wrap=True), out


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH with a fake java and nothing else."""
    path = tmp_path / "bin"
    path.mkdir()
    _executable(path / "java", "#!/bin/sh\nexit 0\n")
    return path


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def _env(tmp_path: Path, bin_dir: Path, **extra: str) -> dict[str, str]:
    return {"PATH": str(bin_dir), "DRILLS_CACHE_DIR": str(tmp_path / "cache"), **extra}


def _fake_allure(
    bin_dir: Path, tmp_path: Path, body: str = WRITES_INDEX, version: str = "2.34.1"
) -> Path:
    record = tmp_path / "allure-args.txt"
    text = FAKE_ALLURE.format(version=version, record=record, body=body)
    return _executable(bin_dir / "allure", text)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = write_run(tmp_path / "reports", "run-01", Verdict.PASS, 12.0)
    (run / "allure-results").mkdir()
    (run / "allure-results" / "0-result.json").write_text("{}")
    return run


def test_generates_the_single_file_report_and_prints_its_path(
    tmp_path: Path, bin_dir: Path, run_dir: Path
) -> None:
    _fake_allure(bin_dir, tmp_path)
    shown, out = console()
    assert generate_allure_report(run_dir, shown, env=_env(tmp_path, bin_dir)) == 0
    index = run_dir.resolve() / "allure-report" / "index.html"
    assert index.is_file()
    assert out.getvalue().strip() == f"allure: {index}"
    args, analytics = (tmp_path / "allure-args.txt").read_text().splitlines()
    results = run_dir.resolve() / "allure-results"
    assert args == f"generate --single-file --clean -o {index.parent} {results}"
    assert analytics == "ALLURE_NO_ANALYTICS=true"


def test_without_any_allure_says_how_to_get_it(
    tmp_path: Path, bin_dir: Path, run_dir: Path
) -> None:
    shown, out = console()
    assert generate_allure_report(run_dir, shown, env=_env(tmp_path, bin_dir)) == 2
    text = out.getvalue()
    assert "the Allure command line was not found" in text
    assert "make allure" in text
    assert "DRILLS_ALLURE" in text
    assert str(tmp_path / "cache" / "allure") in text
    assert not (run_dir / "allure-report").exists()


def test_without_java_says_so(tmp_path: Path, bin_dir: Path, run_dir: Path) -> None:
    allure = _fake_allure(bin_dir, tmp_path)
    (bin_dir / "java").unlink()
    shown, out = console()
    assert generate_allure_report(run_dir, shown, env=_env(tmp_path, bin_dir)) == 2
    assert f"Allure ({allure}) is a Java program and no Java was found" in out.getvalue()
    assert not (tmp_path / "allure-args.txt").exists()


def test_java_home_counts_as_java(tmp_path: Path, bin_dir: Path, run_dir: Path) -> None:
    _fake_allure(bin_dir, tmp_path)
    java_home = tmp_path / "jdk"
    (java_home / "bin").mkdir(parents=True)
    (bin_dir / "java").rename(java_home / "bin" / "java")
    env = _env(tmp_path, bin_dir, JAVA_HOME=str(java_home))
    assert generate_allure_report(run_dir, console()[0], env=env) == 0


def test_drills_allure_must_name_an_executable(
    tmp_path: Path, bin_dir: Path, run_dir: Path
) -> None:
    _fake_allure(bin_dir, tmp_path)  # on PATH, but DRILLS_ALLURE wins and is wrong
    env = _env(tmp_path, bin_dir, DRILLS_ALLURE=str(tmp_path / "nope"))
    shown, out = console()
    assert generate_allure_report(run_dir, shown, env=env) == 2
    assert f"DRILLS_ALLURE={tmp_path / 'nope'} is not an executable file" in out.getvalue()


def test_an_allure_too_old_for_single_file_is_refused(
    tmp_path: Path, bin_dir: Path, run_dir: Path
) -> None:
    _fake_allure(bin_dir, tmp_path, version="2.13.8")
    shown, out = console()
    assert generate_allure_report(run_dir, shown, env=_env(tmp_path, bin_dir)) == 2
    assert "is Allure 2.13.8; drills runs Allure 2, 2.24 or later" in out.getvalue()


def test_a_failing_generate_shows_its_output(tmp_path: Path, bin_dir: Path, run_dir: Path) -> None:
    _fake_allure(bin_dir, tmp_path, body='echo "Could not parse results" >&2; exit 1')
    shown, out = console()
    assert generate_allure_report(run_dir, shown, env=_env(tmp_path, bin_dir)) == 2
    text = out.getvalue()
    assert "`allure generate`" in text
    assert "failed, exit 1" in text
    assert "Could not parse results" in text


def test_a_hanging_generate_is_stopped_with_everything_it_started(
    tmp_path: Path, bin_dir: Path, run_dir: Path
) -> None:
    child = tmp_path / "child.pid"
    _fake_allure(bin_dir, tmp_path, body=HANGS.format(child=child))
    shown, out = console()
    env = _env(tmp_path, bin_dir)
    clock = SystemClock()
    started = clock.now()
    assert generate_allure_report(run_dir, shown, env=env, timeout_s=5.0) == 2
    assert clock.now() - started < 60  # not held up by the background child's open pipe
    assert "ran past 5 s and was stopped" in out.getvalue()
    stat = Path(f"/proc/{int(child.read_text())}/stat")

    def dead() -> bool:  # killed: gone, or a zombie until its new parent reaps it
        try:
            return stat.read_text().rpartition(")")[2].split()[0] == "Z"
        except FileNotFoundError:
            return True

    # SIGKILL is delivered at once but the exit itself can lag on a loaded machine: the pipe
    # closes before the process turns into a zombie (CI saw it still running right after).
    assert wait_until(dead, clock=clock, timeout_s=10, poll_s=0.05, raise_on_timeout=False).met


def test_a_run_without_allure_results_says_why(
    tmp_path: Path, bin_dir: Path, run_dir: Path
) -> None:
    _fake_allure(bin_dir, tmp_path)
    (run_dir / "allure-results" / "0-result.json").unlink()
    shown, out = console()
    assert generate_allure_report(run_dir, shown, env=_env(tmp_path, bin_dir)) == 2
    assert "no Allure results in" in out.getvalue()
    assert "allure-pytest" in out.getvalue()


def test_find_prefers_drills_allure_then_path_then_the_cache(tmp_path: Path, bin_dir: Path) -> None:
    env = _env(tmp_path, bin_dir)
    assert find_allure(env) is None
    cached = allure_cache_dir(env=env) / "bin" / "allure"
    cached.parent.mkdir(parents=True)
    _executable(cached, "#!/bin/sh\n")
    assert find_allure(env) == find_allure({**env, "PATH": "/nonexistent"})
    found = find_allure(env)
    assert found is not None
    assert (found.path, found.source) == (cached, "cache")
    on_path = _fake_allure(bin_dir, tmp_path)
    found = find_allure(env)
    assert found is not None
    assert (found.path, found.source) == (on_path, "PATH")
    named = _executable(tmp_path / "my-allure", "#!/bin/sh\n")
    found = find_allure({**env, "DRILLS_ALLURE": str(named)})
    assert found is not None
    assert (found.path, found.source) == (named, "DRILLS_ALLURE")


def test_the_report_command_passes_allure_on(
    tmp_path: Path,
    bin_dir: Path,
    run_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    for name, value in _env(tmp_path, bin_dir).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DRILLS_ALLURE", raising=False)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert main(["--root", str(tmp_path), "report", "run-01", "--allure"]) == 2
    shown = capfd.readouterr().out
    assert str(run_dir.resolve() / "report.html") in shown  # the page is still re-rendered
    assert "make allure" in shown
    _fake_allure(bin_dir, tmp_path)
    assert main(["--root", str(tmp_path), "report", "run-01", "--allure"]) == 0
    assert "allure: " in capfd.readouterr().out
    assert main(["--root", str(tmp_path), "report", "run-01"]) == 0
    assert "allure: " not in capfd.readouterr().out


# -- fetching into the cache: a local "Maven Central" served from file:// URLs ---------------


def _repository(tmp_path: Path, version: str, digest: str | None = None) -> str:
    """A Maven-like directory holding allure-commandline-<version>.tgz and its .sha256."""
    staging = tmp_path / "staging" / f"allure-{version}"
    (staging / "bin").mkdir(parents=True)
    (staging / "lib").mkdir()
    _executable(staging / "bin" / "allure", "#!/bin/sh\necho fetched\n")
    (staging / "lib" / "allure.jar").write_bytes(b"jar")
    folder = tmp_path / "maven" / version
    folder.mkdir(parents=True)
    archive = folder / f"allure-commandline-{version}.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging, arcname=f"allure-{version}")
    published = digest or hashlib.sha256(archive.read_bytes()).hexdigest()
    (folder / f"{archive.name}.sha256").write_text(published)
    return (tmp_path / "maven").as_uri()


def test_fetch_verifies_the_digest_and_unpacks_into_the_cache(tmp_path: Path) -> None:
    base = _repository(tmp_path, "9.9.9")
    env = {"DRILLS_CACHE_DIR": str(tmp_path / "cache")}
    executable = fetch_allure("9.9.9", env=env, base_url=base)
    assert executable == tmp_path / "cache" / "allure" / "9.9.9" / "bin" / "allure"
    assert os.access(executable, os.X_OK)
    assert (executable.parents[1] / "lib" / "allure.jar").read_bytes() == b"jar"
    (tmp_path / "maven").rename(tmp_path / "gone")  # a cache hit needs no network
    assert fetch_allure("9.9.9", env=env, base_url=base) == executable


def test_fetch_refuses_an_archive_whose_digest_differs(tmp_path: Path) -> None:
    base = _repository(tmp_path, "9.9.9", digest="0" * 64)
    env = {"DRILLS_CACHE_DIR": str(tmp_path / "cache")}
    with pytest.raises(ConfigError, match="does not match the published"):
        fetch_allure("9.9.9", env=env, base_url=base)
    assert list((tmp_path / "cache" / "allure").iterdir()) == []


def test_fetch_of_the_pinned_version_checks_the_pin(tmp_path: Path) -> None:
    base = _repository(tmp_path, "2.34.1", digest="1" * 64)
    env = {"DRILLS_CACHE_DIR": str(tmp_path / "cache")}
    with pytest.raises(ConfigError, match="drills pins df13c588"):
        fetch_allure("2.34.1", env=env, base_url=base)
