"""`drills run` and `drills list`: pytest on scenarios/ with the plugin's options."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from drills.cli.collect import CollectedDrill, collect_drills
from drills.cli.metrics import MetricsTargets, publish_metrics
from drills.cli.output import verdict_table
from drills.cli.paths import ProjectPaths
from drills.cli.rollback import pending_refusal
from drills.cli.run_preflight import check_environment, check_request, report_dir_option
from drills.core.catalogue import new_run_id
from drills.core.clock import SystemClock
from drills.core.durations import format_duration
from drills.core.errors import ConfigError, DrillError
from drills.core.halt import refuse_to_start
from drills.core.journal import RunJournal
from drills.core.objectives import Verdict
from drills.core.profile import (
    Profile,
    load_profile,
    parse_objective_override,
    resolve_profile_path,
)
from drills.core.safety import RollbackLedger
from drills.core.services import DRILL_REQUIREMENTS, availability
from drills.reporting.evidence import INCOMPLETE_NAME, REPORT_NAME, TIMELINE_NAME
from drills.reporting.progress import LiveProgress

__all__ = ["NOTHING_TO_RUN", "RunRequest", "list_drills", "run_drills"]

NOTHING_TO_RUN = 3
USAGE = 2
EVIDENCE_FILES = (
    "journal.json",
    "junit.xml",
    TIMELINE_NAME,
    REPORT_NAME,
    "allure-results",
    "rollbacks.jsonl",
)


@dataclass(frozen=True)
class RunRequest:
    """What `drills run` was asked to do."""

    ids: tuple[str, ...] = ()
    env: str = "sandbox"
    objectives: tuple[str, ...] = ()
    dry_run: bool = False
    variant: str | None = None
    markexpr: str | None = None
    load_workers: int | None = None
    load_remote_workers: int | None = None
    load_in_cluster: int | None = None
    service: str | None = None  # --service: the profile's service to drill
    load_advertise: str | None = None
    pytest_args: tuple[str, ...] = field(default_factory=tuple)
    sandbox_up: bool = True
    operator: str | None = None  # None: the OS user (the plugin looks it up)
    approved_by: str | None = None
    ticket: str | None = None
    metrics: MetricsTargets = field(default_factory=MetricsTargets)  # --metrics-file, --pushgateway


def _load_environment(request: RunRequest) -> None:
    """Hand the load options to the `traffic` fixture (fixtures/load.py) through variables."""
    for name, value in (
        ("DRILLS_LOAD_WORKERS", request.load_workers),
        ("DRILLS_LOAD_REMOTE_WORKERS", request.load_remote_workers),
        ("DRILLS_LOAD_IN_CLUSTER", request.load_in_cluster),
        ("DRILLS_LOAD_ADVERTISE", request.load_advertise),
    ):
        if value is not None:
            os.environ[name] = str(value)


def plugin_args(request: RunRequest) -> list[str]:
    """The plugin options that carry the request into pytest."""
    args = [f"--drill-env={request.env}"]
    args += [f"--drill-objective={text}" for text in request.objectives]
    args += [f"--drill-id={drill_id}" for drill_id in request.ids]
    if request.dry_run:
        args.append("--drill-dry-run")
    if request.variant is not None:
        args.append(f"--drill-variant={request.variant}")
    if request.service is not None:
        args.append(f"--drill-service={request.service}")
    if request.markexpr:
        args += ["-m", request.markexpr]
    for option, value in (
        ("--drill-operator", request.operator),
        ("--drill-approved-by", request.approved_by),
        ("--drill-ticket", request.ticket),
    ):
        if value is not None:
            args.append(f"{option}={value}")
    return args


def load_selected_profile(paths: ProjectPaths, env: str, objectives: tuple[str, ...]) -> Profile:
    """The profile `--env` names, with `--objective` overrides applied."""
    profile = load_profile(resolve_profile_path(env, paths.profiles))
    overrides = [parse_objective_override(text, source="--objective") for text in objectives]
    return profile.with_objectives(overrides)


def explain_no_scenarios(paths: ProjectPaths, console: Console) -> int:
    """Say plainly that there is nothing to drill yet."""
    console.print(
        f"[yellow]No drills yet:[/] {paths.scenarios} holds no scenario modules (test_<id>.py "
        "with @pytest.mark.drill). The runbook drills arrive with issue #7; nothing was run.\n"
        "What works today: `drills list`, `drills rollback`, `make test` (the harness's own "
        "tests, including toy drills in tests/plugin/)."
    )
    return NOTHING_TO_RUN


def list_drills(paths: ProjectPaths, request: RunRequest, console: Console) -> int:
    """Print every scenario with its runbook section, service, severity and objectives."""
    if not paths.scenario_modules():
        explain_no_scenarios(paths, console)
        return 0
    try:
        profile = load_selected_profile(paths, request.env, request.objectives)
        drills = collect_drills(paths.root, paths.scenarios, plugin_args(request))
    except ConfigError as exc:
        console.print(Text.assemble(("error: ", "red"), str(exc)))
        return USAGE
    table = Table(
        title=f"{len(drills)} drill(s); objectives from profile {profile.name}",
        box=box.SIMPLE_HEAD,  # no vertical rules: the seven columns fit 80 characters
        pad_edge=False,
        collapse_padding=True,
    )
    for column in ("id", "runbook", "service", "severity", "RTO", "RPO", "marks"):
        table.add_column(column, no_wrap=True)
    for found in drills:
        service = profile.service(found.service)
        rto = found.rto_s if found.rto_s is not None else (service.rto_s if service else None)
        rpo = found.rpo_s if found.rpo_s is not None else (service.rpo_s if service else None)
        table.add_row(
            found.id,
            found.runbook,
            found.service,
            found.severity,
            format_duration(rto),
            format_duration(rpo),
            ",".join(found.marks),
        )
    console.print(table)
    _print_variants(drills, console)
    _print_services(profile, [d.id for d in drills], console)
    return 0


def _print_services(profile: Profile, drill_ids: list[str], console: Console) -> None:
    """Per service with a Deployment: the drills it can run, and why the others cannot."""
    for service in profile.services:
        if service.workload is None:
            continue
        known = [d for d in drill_ids if d in DRILL_REQUIREMENTS]
        found = availability(service.name, service.workload, known)
        runnable = [a.drill for a in found if a.runnable]
        console.print(
            f"service {service.name} (deployment {service.workload.deployment}): "
            f"{len(runnable)} of {len(found)} drill(s) can run",
            highlight=False,
            markup=False,
        )
        for item in found:
            if not item.runnable:
                line = f"  cannot run {item.drill}: {'; '.join(item.why)}"
                console.print(line, highlight=False, markup=False)
        if len(known) < len(drill_ids):
            unknown = ", ".join(d for d in drill_ids if d not in DRILL_REQUIREMENTS)
            line = f"  needs not declared, not judged: {unknown}"
            console.print(line, highlight=False, markup=False)


def _print_variants(drills: list[CollectedDrill], console: Console) -> None:
    """One line per drill that has variants: the default first (`drills run ID --variant V`)."""
    with_variants = [d for d in drills if d.variants]
    if not with_variants:
        return
    console.print("variants (the first is the default; drills run ID --variant NAME):")
    for found in with_variants:
        console.print(f"  {found.id}: {', '.join(found.variants)}", highlight=False)


def run_drills(paths: ProjectPaths, request: RunRequest, console: Console) -> int:
    """Run the selected drills; 0 only when every one PASSED (or, dry run, planned cleanly)."""
    try:  # bad input is reported first, whatever else is missing
        profile = load_selected_profile(paths, request.env, request.objectives)
        if not request.dry_run:  # before the pending rollbacks: they may be the holder's
            refuse_to_start(paths.root, profile.name, profile.halt_file)
        run_id = new_run_id(SystemClock())
        given = report_dir_option(request.pytest_args)
        report_dir = paths.root / given if given else paths.reports / run_id
        check_request(paths, profile, report_dir, os.environ)  # a hostile profile acts on nothing
        profile.app_service(request.service)  # an unknown --service is a usage error, up front
    except DrillError as exc:
        console.print(Text.assemble(("error: ", "red"), str(exc)))
        return USAGE
    if not paths.scenario_modules():
        return explain_no_scenarios(paths, console)
    pending = RollbackLedger(paths.ledger).pending()
    if pending and not request.dry_run:
        console.print(f"[red]error:[/] {pending_refusal(pending, paths.ledger)}", highlight=False)
        return USAGE
    if request.sandbox_up and profile.targets.kind == "sandbox":
        ensure_sandbox(paths, profile, console)
    check_environment(paths, profile, os.environ)  # raises: one message, exit 2 (cli.failure)
    args = [
        str(paths.scenarios),
        f"--rootdir={paths.root}",
        f"--drill-report-dir={report_dir}",
        f"--drill-run-id={run_id}",
        f"--drill-ledger={paths.ledger}",
        f"--drill-profiles-dir={paths.profiles}",
        f"--junitxml={report_dir / 'junit.xml'}",
        "-q",
        "--tb=line",
        *plugin_args(request),
        *request.pytest_args,
    ]
    if importlib.util.find_spec("allure_pytest") is not None:
        args.append(f"--alluredir={report_dir / 'allure-results'}")
    _load_environment(request)
    progress = LiveProgress(console)
    try:
        code = pytest.main(args, plugins=[progress])
    finally:
        progress.close()
    code = _conclude(paths, report_dir, int(code), console, dry_run=request.dry_run)
    return _export_metrics(report_dir / "journal.json", request, console, code)


def ensure_sandbox(paths: ProjectPaths, profile: Profile, console: Console) -> None:
    """Bring the sandbox up when the profile needs it and its endpoints file is missing."""
    endpoints = paths.root / (profile.targets.endpoints_file or ".drills/sandbox/endpoints.json")
    if endpoints.exists():
        return
    from drills.sandbox import control  # imported only when it must start (0.5 s)

    console.print("bringing the sandbox up (`drills sandbox down` stops it) ...")
    control.up(paths.root)


def _conclude(
    paths: ProjectPaths, report_dir: Path, code: int, console: Console, *, dry_run: bool
) -> int:
    journal_path = report_dir / "journal.json"
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
        console.print("[red]error:[/] pytest refused the run (see the message above)")
        return USAGE
    if not journal_path.exists():
        console.print("[yellow]no drill ran[/] (nothing selected, or collection failed above)")
        return NOTHING_TO_RUN if code == pytest.ExitCode.NO_TESTS_COLLECTED else 1
    journal = RunJournal.from_json(journal_path.read_text(encoding="utf-8"))
    _point_latest(paths.reports, report_dir)
    console.print(verdict_table(journal))
    _say_evidence(report_dir, console)
    verdicts = {r.verdict for r in journal.scenarios}
    if dry_run:
        return 0 if code == pytest.ExitCode.OK and Verdict.ERROR not in verdicts else 1
    return 0 if code == pytest.ExitCode.OK and verdicts == {Verdict.PASS} else 1


def _export_metrics(journal_path: Path, request: RunRequest, console: Console, code: int) -> int:
    """Write/push the run's metrics when asked; a dry run measured nothing, so it exports none."""
    if not request.metrics or not journal_path.exists():
        return code
    if request.dry_run:
        console.print("dry run: no metrics written or pushed (nothing was measured)")
        return code
    journal = RunJournal.from_json(journal_path.read_text(encoding="utf-8"))
    return publish_metrics(journal, request.metrics, console, code)


def _say_evidence(report_dir: Path, console: Console) -> None:
    present = [name for name in EVIDENCE_FILES if (report_dir / name).exists()]
    console.print(f"evidence: {report_dir} ({', '.join(present)}); reports/latest points here")
    report = report_dir / REPORT_NAME
    if report.exists():
        console.print(f"report: {report}", markup=False, highlight=False)
    incomplete = report_dir / INCOMPLETE_NAME
    if incomplete.exists():
        console.print(f"[bold red]report incomplete:[/] see {incomplete}")


def _point_latest(reports: Path, report_dir: Path) -> None:
    latest = reports / "latest"
    tmp = reports / ".latest.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(report_dir.name)
    os.replace(tmp, latest)
