"""Session hooks: build the context, select drills, finish each drill in the call phase."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from drills.core.clock import SystemClock
from drills.core.drill import Drill
from drills.core.durations import format_duration
from drills.core.errors import ConfigError, DrillError
from drills.pytest_plugin import bridge, failpoints, redaction
from drills.pytest_plugin.context import DrillContext
from drills.pytest_plugin.markers import check_variant, register_markers, select_drills
from drills.pytest_plugin.options import add_options, build_settings
from drills.pytest_plugin.outcomes import junit_properties, settle
from drills.pytest_plugin.preflight import PLUGIN_NAME as ACCESS_PREFLIGHT
from drills.pytest_plugin.preflight import AccessPreflight
from drills.pytest_plugin.runguard import PLUGIN_NAME as RUN_GUARD
from drills.pytest_plugin.runguard import RunGuard

__all__ = [
    "CONTEXT_KEY",
    "DRILL_KEY",
    "PLAN_KEY",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_report_header",
    "pytest_runtest_call",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
    "pytest_sessionstart",
    "pytest_terminal_summary",
    "pytest_unconfigure",
]

CONTEXT_KEY = pytest.StashKey[DrillContext]()
DRILL_KEY = pytest.StashKey[Drill]()
PLAN_KEY = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Options, ini keys and the `pytest_drills_*` hook specifications."""
    add_options(parser)
    bridge.add_hookspecs(pluginmanager)


def pytest_configure(config: pytest.Config) -> None:
    """Register markers, build the one DrillContext of this session, learn its secrets.

    An expected error (DrillError) becomes a usage error: one message and exit code 4, which
    `drills run` reports as 2; never pytest's INTERNALERROR traceback.
    """
    register_markers(config)
    if CONTEXT_KEY in config.stash:
        raise pytest.UsageError("drills: a DrillContext already exists for this session")
    clock = SystemClock()
    try:
        context = DrillContext(
            settings=build_settings(config, clock), root=config.rootpath, clock=clock
        )
        context.preload_profile()
        redaction.learn_run_secrets(context)
        failpoints.arm(context.events, os.environ)  # only the crash matrix sets one
    except DrillError as exc:
        raise pytest.UsageError(f"drills: {exc}") from exc
    config.stash[CONTEXT_KEY] = context
    guard = RunGuard(context, DRILL_KEY)  # run lock and halt lever, once drills are selected
    config.pluginmanager.register(guard, RUN_GUARD)
    config.add_cleanup(guard.close)
    config.pluginmanager.register(AccessPreflight(context), ACCESS_PREFLIGHT)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Install the SIGTERM guard and connect reporters to the drill events."""
    context = session.config.stash[CONTEXT_KEY]
    context.started_at = context.clock.wall().isoformat()
    context.guard.install()
    try:
        bridge.connect(session.config, context)
    except DrillError as exc:
        raise pytest.UsageError(f"drills: {exc}") from exc


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write report.html beside the finished journal.json (a listener, after every drill)."""
    if CONTEXT_KEY in session.config.stash:
        bridge.finish(session.config)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Mask secrets in what pytest and allure wrote; put the earlier SIGTERM handler back.

    Runs after every writer finished (junit.xml is written at session finish); a SIGTERM that
    arrived is chained to the earlier handler last.
    """
    context = config.stash.get(CONTEXT_KEY, None)
    if context is not None:
        redaction.scrub_outputs(config, context.settings.report_dir)
        context.guard.uninstall()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Mask secrets in each report (failure text, captured output) before anyone prints it."""
    report = yield
    redaction.clean_report(report, call)
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep only the drills named by --drill-id (an unknown id is a usage error).

    A --drill-variant every kept drill must declare: running a drill without the variant asked
    for would report on something else than what was requested.
    """
    wanted = config.stash[CONTEXT_KEY].settings.selected_ids
    kept, dropped = select_drills(items, wanted)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    check_variant(items, config.getoption("drill_variant"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Show the effective drill settings, the profile's objectives and pending rollbacks."""
    context = config.stash[CONTEXT_KEY]
    lines = [context.settings.describe()]
    try:
        profile = context.profile
    except ConfigError as exc:
        return [*lines, f"drills: profile not loaded ({exc})"]
    targets = ", ".join(
        f"{s.name} RTO {_fmt(s.rto_s)} RPO {_fmt(s.rpo_s)}" for s in profile.services
    )
    lines.append(f"drills: profile {profile.name} ({profile.path}): {targets}")
    pending = context.pending_rollbacks()
    if pending:
        lines.append(
            f"drills: WARNING {pending} rollback(s) pending in {context.settings.ledger_path} "
            "from an earlier run; run `drills rollback`"
        )
    return lines


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Finish the item's drill right after its body: rollbacks, verdict, outcome, properties."""
    error: BaseException | None = None
    try:
        result = yield
    except BaseException as exc:
        error = exc
        result = None
    runner = item.stash.get(DRILL_KEY, None)
    if runner is None:
        if error is not None:
            raise error
        return result
    record = runner.finish(error)
    targets = {
        o.kind: o.target_s for o in runner.spec.objectives if o.service == runner.spec.service
    }
    item.user_properties.extend(junit_properties(record, targets))
    settle(record, error, item.stash.get(PLAN_KEY, []))
    return result


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the journal went, one line per drill verdict."""
    writer = bridge.journal_writer(terminalreporter.config)
    if writer is None or not writer.journal.scenarios:
        return
    terminalreporter.section("drills")
    for record in writer.journal.scenarios:
        terminalreporter.write_line(f"{record.verdict:<17} {record.id} ({record.runbook})")
    terminalreporter.write_line(f"journal: {writer.path}")
    evidence = bridge.evidence_writer(terminalreporter.config)
    if evidence is None:
        return
    if evidence.report_path is not None:
        terminalreporter.write_line(f"report: {evidence.report_path}")
    for problem in evidence.problems:
        terminalreporter.write_line(f"REPORT INCOMPLETE: {problem}", red=True, bold=True)


def _fmt(seconds: float | None) -> str:
    return format_duration(seconds)
