"""Forward `DrillEvents` to the `pytest_drills_*` hooks and plug in the built-in reporters."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.journal import DrillRecord
from drills.core.provenance import RunProvenance
from drills.hookspecs import DrillsHookSpecs
from drills.pytest_plugin.context import DrillContext
from drills.reporting.evidence import EvidenceWriter
from drills.reporting.journal_json import JournalJsonWriter
from drills.reporting.provenance import gather_provenance

__all__ = [
    "EVIDENCE_PLUGIN",
    "JOURNAL_PLUGIN",
    "add_hookspecs",
    "connect",
    "evidence_writer",
    "finish",
    "journal_writer",
]

JOURNAL_PLUGIN = "drills-journal-json"
EVIDENCE_PLUGIN = "drills-evidence"
# allure-pytest registers its listener under this name only when --alluredir is given.
ALLURE_LISTENER = "allure_listener"


def add_hookspecs(config_or_manager: pytest.PytestPluginManager) -> None:
    """Declare the `pytest_drills_*` hooks."""
    config_or_manager.add_hookspecs(DrillsHookSpecs)


def connect(config: pytest.Config, context: DrillContext) -> None:
    """Register the journal writer and route every forwarded event to the hooks."""
    writer = JournalJsonWriter(
        context.settings.report_dir,
        run_id=context.settings.run_id,
        environment=context.environment,
        started_at=context.started_at,
    )
    writer.set_provenance(_provenance(context))
    config.pluginmanager.register(writer, JOURNAL_PLUGIN)
    evidence = EvidenceWriter(
        context.settings.report_dir,
        allure=config.pluginmanager.has_plugin(ALLURE_LISTENER),
    )
    config.pluginmanager.register(evidence, EVIDENCE_PLUGIN)
    _forward(config, context)
    config.hook.pytest_drills_session_started(
        events=context.events, run_id=context.settings.run_id, environment=context.environment
    )


def _provenance(context: DrillContext) -> RunProvenance:
    settings = context.settings
    try:
        profile_path: Path | None = context.profile.path
    except ConfigError:
        profile_path = None  # the session reports the bad profile itself
    return gather_provenance(
        context.root,
        profile_path=profile_path,
        operator=settings.operator,
        approved_by=settings.approved_by,
        ticket=settings.ticket,
    )


def journal_writer(config: pytest.Config) -> JournalJsonWriter | None:
    """The session's journal writer, if the plugin registered one."""
    plugin = config.pluginmanager.get_plugin(JOURNAL_PLUGIN)
    return plugin if isinstance(plugin, JournalJsonWriter) else None


def evidence_writer(config: pytest.Config) -> EvidenceWriter | None:
    """The session's evidence writer (timelines, plots, report.html), if registered."""
    plugin = config.pluginmanager.get_plugin(EVIDENCE_PLUGIN)
    return plugin if isinstance(plugin, EvidenceWriter) else None


def finish(config: pytest.Config) -> None:
    """Render report.html once the journal holds every drill of the session."""
    journal, evidence = journal_writer(config), evidence_writer(config)
    if journal is not None and evidence is not None:
        evidence.finish(journal.journal)


def _forward(config: pytest.Config, context: DrillContext) -> None:
    hook, events = config.hook, context.events

    def finished(record: DrillRecord) -> None:
        if not record.nodeid and context.current_nodeid:
            record = replace(record, nodeid=context.current_nodeid)
        hook.pytest_drills_drill_finished(record=record)

    events.drill_started.add_listener(
        lambda started: hook.pytest_drills_drill_started(started=started)
    )
    events.step_started.add_listener(lambda step: hook.pytest_drills_step_started(step=step))
    events.step_finished.add_listener(lambda step: hook.pytest_drills_step_finished(step=step))
    events.drill_finished.add_listener(finished)
