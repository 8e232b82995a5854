"""Command-line options and ini keys of the plugin, resolved into one frozen `DrillSettings`.

Precedence, highest first: the `drill` marker or the `drill_objectives` fixture, the command
line, the ini file, the environment profile. The ini is read only when the option is None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from drills.core.catalogue import new_run_id
from drills.core.clock import DrillClock
from drills.core.errors import ConfigError
from drills.core.objectives import Objective
from drills.core.preflight import check_report_dir
from drills.core.profile import parse_objective_override

__all__ = ["DrillSettings", "add_options", "build_settings"]

DEFAULT_ENV = "sandbox"
PROFILES_DIR = "fixtures/environments"
LEDGER_PATH = ".drills/rollbacks.jsonl"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

_HELP = {
    "env": f"environment profile: name in {PROFILES_DIR}/ or a .toml path (default {DEFAULT_ENV})",
    "objective": "override an objective, SERVICE.rto=DURATION or SERVICE.rpo=DURATION (repeatable)",
    "dry_run": "print each drill's plan and rollbacks, act on nothing",
    "report_dir": "where journal.json and the run's rollback ledger go (default reports/<run-id>)",
    "run_id": "identifier of this run (default: UTC time, e.g. 20260101T120000Z)",
    "ledger": f"persistent rollback ledger that `drills rollback` replays (default {LEDGER_PATH})",
    "profiles_dir": f"directory of environment profiles (default {PROFILES_DIR})",
    "select": "run only the drill with this id (repeatable); unknown ids are an error",
    "variant": "run the selected drills' variant NAME (each must declare it; default: the first)",
    "service": "drill the profile's service NAME (default: the first one with a deployment)",
    "operator": "who runs the drills, recorded in the journal (default: the OS user)",
    "approved_by": "who approved the run, recorded in the journal",
    "ticket": "change or incident ticket of the run, recorded in the journal",
}


@dataclass(frozen=True)
class DrillSettings:
    """The effective settings of one session."""

    env: str
    profiles_dir: Path
    objectives: tuple[Objective, ...]
    dry_run: bool
    report_dir: Path
    report_dir_explicit: bool
    run_id: str
    ledger_path: Path
    selected_ids: tuple[str, ...]
    operator: str | None = None  # None: the OS user, looked up when the journal starts
    approved_by: str = ""
    ticket: str = ""

    def describe(self) -> str:
        """One line for the report header."""
        overrides = ", ".join(
            f"{o.service}.{o.kind.lower()}={o.target_s:g}s" for o in self.objectives
        )
        return (
            f"drills: env={self.env} run-id={self.run_id} "
            f"dry-run={'yes' if self.dry_run else 'no'} "
            f"report-dir={self.report_dir} ledger={self.ledger_path}"
            + (f" objectives[{overrides}]" if overrides else "")
        )


def add_options(parser: pytest.Parser) -> None:
    """Register every option with its matching ini key."""
    group = parser.getgroup("drills", "chaos and disaster-recovery drills")
    group.addoption("--drill-env", dest="drill_env", default=None, help=_HELP["env"])
    group.addoption(
        "--drill-objective",
        dest="drill_objectives",
        action="append",
        default=None,
        metavar="SERVICE.rto=DURATION",
        help=_HELP["objective"],
    )
    group.addoption(
        "--drill-dry-run",
        dest="drill_dry_run",
        action="store_true",
        default=None,
        help=_HELP["dry_run"],
    )
    group.addoption(
        "--drill-report-dir", dest="drill_report_dir", default=None, help=_HELP["report_dir"]
    )
    group.addoption("--drill-run-id", dest="drill_run_id", default=None, help=_HELP["run_id"])
    group.addoption("--drill-ledger", dest="drill_ledger", default=None, help=_HELP["ledger"])
    group.addoption(
        "--drill-profiles-dir", dest="drill_profiles_dir", default=None, help=_HELP["profiles_dir"]
    )
    group.addoption(
        "--drill-id", dest="drill_ids", action="append", default=None, help=_HELP["select"]
    )
    group.addoption("--drill-variant", dest="drill_variant", default=None, help=_HELP["variant"])
    group.addoption("--drill-service", dest="drill_service", default=None, help=_HELP["service"])
    group.addoption("--drill-operator", dest="drill_operator", default=None, help=_HELP["operator"])
    group.addoption(
        "--drill-approved-by", dest="drill_approved_by", default=None, help=_HELP["approved_by"]
    )
    group.addoption("--drill-ticket", dest="drill_ticket", default=None, help=_HELP["ticket"])
    parser.addini("drill_env", _HELP["env"], default=None)
    parser.addini("drill_objectives", _HELP["objective"], type="linelist", default=[])
    parser.addini("drill_dry_run", _HELP["dry_run"], type="bool", default=False)
    parser.addini("drill_report_dir", _HELP["report_dir"], default=None)
    parser.addini("drill_ledger", _HELP["ledger"], default=None)
    parser.addini("drill_profiles_dir", _HELP["profiles_dir"], default=None)


def build_settings(config: pytest.Config, clock: DrillClock) -> DrillSettings:
    """Resolve options over ini over defaults; raises pytest.UsageError on bad values."""
    root = config.rootpath
    try:
        objectives = tuple(_objectives(config))
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc
    run_id = config.getoption("drill_run_id") or new_run_id(clock)
    if not _RUN_ID.match(run_id):
        raise pytest.UsageError(f"--drill-run-id {run_id!r}: use letters, digits, '.', '_' or '-'")
    report_dir_text = _value(config, "drill_report_dir")
    report_dir = _path(root, report_dir_text) if report_dir_text else root / "reports" / run_id
    try:  # evidence stays inside the repository, through real directories (core.preflight)
        check_report_dir(root, report_dir, source=_report_dir_source(config))
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc
    return DrillSettings(
        env=_value(config, "drill_env") or DEFAULT_ENV,
        profiles_dir=_path(root, _value(config, "drill_profiles_dir") or PROFILES_DIR),
        objectives=objectives,
        dry_run=_dry_run(config),
        report_dir=report_dir,
        report_dir_explicit=bool(report_dir_text),
        run_id=run_id,
        ledger_path=_path(root, _value(config, "drill_ledger") or LEDGER_PATH),
        selected_ids=tuple(config.getoption("drill_ids") or ()),
        operator=config.getoption("drill_operator"),
        approved_by=config.getoption("drill_approved_by") or "",
        ticket=config.getoption("drill_ticket") or "",
    )


def _value(config: pytest.Config, name: str) -> str | None:
    option = config.getoption(name)
    if option is not None:
        return str(option)
    ini = config.getini(name)
    return str(ini) if ini else None


def _report_dir_source(config: pytest.Config) -> str:
    if config.getoption("drill_report_dir") is not None:
        return "--drill-report-dir"
    if config.getini("drill_report_dir"):
        return f"{config.inipath}: key 'drill_report_dir'"
    return "the default reports/<run-id>"


def _dry_run(config: pytest.Config) -> bool:
    option = config.getoption("drill_dry_run")
    if option is not None:
        return bool(option)
    return bool(config.getini("drill_dry_run"))


def _objectives(config: pytest.Config) -> list[Objective]:
    option = config.getoption("drill_objectives")
    if option is not None:
        return [parse_objective_override(text) for text in option]
    lines = config.getini("drill_objectives")
    return [parse_objective_override(text, source="ini drill_objectives") for text in lines]


def _path(root: Path, text: str) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else root / path
