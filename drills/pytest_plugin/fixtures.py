"""Fixtures: the session's `drill_context`, its clock, objective overrides and the `drill`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import pytest

from drills.core.clock import DrillClock
from drills.core.drill import Drill, DrillSpec
from drills.core.errors import ConfigError
from drills.core.objectives import Objective
from drills.core.profile import (
    Endpoints,
    Profile,
    ServiceObjectives,
    parse_objective_override,
    resolve_endpoints,
)
from drills.core.secrets import redact
from drills.core.services import DRILL_REQUIREMENTS, availability
from drills.pytest_plugin.bridge import JOURNAL_PLUGIN
from drills.pytest_plugin.context import DrillContext
from drills.pytest_plugin.markers import drill_marker, variant_of
from drills.pytest_plugin.session import CONTEXT_KEY, DRILL_KEY, PLAN_KEY
from drills.reporting.journal_json import JournalJsonWriter

__all__ = [
    "drill",
    "drill_clock",
    "drill_context",
    "drill_endpoints",
    "drill_objectives",
    "drill_profile",
]


@pytest.fixture(scope="session")
def drill_context(pytestconfig: pytest.Config) -> DrillContext:
    """The session's composition root (settings, profile, clock, events, ledgers)."""
    return pytestconfig.stash[CONTEXT_KEY]


@pytest.fixture(scope="session")
def drill_profile(drill_context: DrillContext) -> Profile:
    """The session's validated environment profile (with CLI/ini objective overrides)."""
    try:
        return drill_context.profile
    except ConfigError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def drill_endpoints(
    request: pytest.FixtureRequest, drill_context: DrillContext, drill_profile: Profile
) -> Endpoints:
    """Where the profile's environment answers; fails with how to bring it up if it is down."""
    try:
        endpoints = resolve_endpoints(
            drill_profile.targets,
            drill_context.root,
            os.environ,
            profile_path=drill_profile.path,
        )
    except ConfigError as exc:
        pytest.fail(str(exc), pytrace=False)
    writer = request.config.pluginmanager.get_plugin(JOURNAL_PLUGIN)
    if isinstance(writer, JournalJsonWriter):
        writer.set_cluster(endpoints.kubernetes_version, endpoints.cluster_settings)
        writer.set_provenance(
            replace(
                writer.journal.provenance,
                kubernetes_version=endpoints.kubernetes_version or "",
                postgresql_version=_postgresql_version(endpoints.database_dsn),
            )
        )
    return endpoints


def _postgresql_version(dsn: str | None) -> str:
    """`SHOW server_version` of the drill's database; "" without a DSN or the `db` extra."""
    if not dsn:
        return ""
    try:
        from drills.targets.adapters.postgres_version import server_version
    except ImportError:  # drills[db] not installed: the version stays unknown
        return ""
    return server_version(dsn)


@pytest.fixture(scope="session")
def drill_clock(drill_context: DrillContext) -> DrillClock:
    """The clock drills run on; override with a FakeClock in tests of drills."""
    return drill_context.clock


@pytest.fixture
def drill_objectives() -> Sequence[str | Objective]:
    """Objective overrides for one test (`shop.rto=30s` or Objective); beats CLI and ini."""
    return ()


@pytest.fixture
def drill(
    request: pytest.FixtureRequest,
    drill_context: DrillContext,
    drill_clock: DrillClock,
    drill_objectives: Sequence[str | Objective],
) -> Iterator[Drill]:
    """A `Drill` built from the test's `drill` marker and the profile; rollbacks run at the end."""
    spec = _spec(request.node, drill_context, drill_objectives)
    plan: list[str] = []
    request.node.stash[PLAN_KEY] = plan
    runner = Drill(
        spec,
        clock=drill_clock,
        events=drill_context.events,
        ledger=drill_context.ledger,
        say=_sayer(request.config, plan),
    )
    request.node.stash[DRILL_KEY] = runner
    drill_context.current_nodeid = request.node.nodeid
    drill_context.drills_run += 1
    runner.__enter__()
    try:
        yield runner
    finally:
        runner.finish()  # no-op when the call hook already finished it


@pytest.fixture
def drill_variant(request: pytest.FixtureRequest) -> str:
    """The variant of the drill this test runs.

    `drills run ID --variant NAME` chooses; else the first its marker declares ("" if none).
    """
    return variant_of(request.node)


@pytest.fixture(scope="session")
def drill_service(
    request: pytest.FixtureRequest, drill_context: DrillContext
) -> ServiceObjectives | None:
    """The service this drill runs against.

    `drills run --service NAME`, else the profile's first service with a deployment; None when
    the profile describes none (the drills then use `[targets] deployment`, the shop).
    """
    try:
        return drill_context.profile.app_service(request.config.getoption("drill_service"))
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc


def _drilled_service(
    item: pytest.Item, profile: Profile, marker_service: str, drill_id: str
) -> str:
    """The service whose objectives judge the drill, and a skip when it cannot run the drill.

    A drill marked for the profile's first described service (the demo shop) is judged on the
    `--service` one instead; a drill marked for another service (e.g. `database`) keeps it.
    """
    wanted = item.config.getoption("drill_service")
    if wanted is None:
        return marker_service
    selected, default = profile.app_service(wanted), profile.app_service()
    assert selected is not None  # app_service(name) raises rather than return None
    declared = [drill_id] if drill_id in DRILL_REQUIREMENTS else []  # a team's own: it runs
    missing = [
        a for a in availability(selected.name, selected.workload, declared) if not a.runnable
    ]
    if missing:
        pytest.skip(f"service {selected.name} cannot run {drill_id}: {'; '.join(missing[0].why)}")
    return (
        selected.name if default is not None and marker_service == default.name else marker_service
    )


def _spec(item: pytest.Item, context: DrillContext, extra: Sequence[str | Objective]) -> DrillSpec:
    try:
        marker = drill_marker(item)
        if marker is None:
            raise ConfigError(
                f"{item.nodeid} uses the `drill` fixture without @pytest.mark.drill(id=..., "
                "runbook=..., service=..., severity=...); add the marker"
            )
        profile = context.profile
        overrides = [
            o
            if isinstance(o, Objective)
            else parse_objective_override(o, source="drill_objectives")
            for o in extra
        ]
        objectives = (
            profile.with_objectives(overrides).with_objectives(marker.objectives).objectives()
        )
        service = _drilled_service(item, profile, marker.service, marker.id)
    except ConfigError as exc:
        pytest.fail(str(exc), pytrace=False)
    return DrillSpec(
        id=marker.id,
        runbook=marker.runbook,
        service=service,
        severity=marker.severity,
        objectives=objectives,
        waits=profile.waits,
        ledger=profile.ledger,
        phases=profile.phases,
        dry_run=context.settings.dry_run,
        run_id=context.settings.run_id,
        variant=variant_of(item),
    )


def _sayer(config: pytest.Config, plan: list[str]) -> Callable[[str], None]:
    def say(line: str) -> None:
        plan.append(line)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        if reporter is None or capture is None:
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(redact(line))

    return say
