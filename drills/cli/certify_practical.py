"""`drills certify start|status|ack|page|notice|postmortem|finish|abort`: the practical.

`start` checks the environment, gives the trainee their own identities (a kubeconfig whose user
the audit log names, a PostgreSQL role whose statements are logged), picks the hidden variant,
and starts the proctor: a background pytest run of `fixtures/practicals.py` that injects the
variant with the drill's own fault (rollback recorded first) under Locust traffic. Once the fault
is in, `start` prints only what a pager would, and how to reach the environment, then returns.

The trainee works in their own shell. `ack`, `page`, `notice` and `postmortem` record what a
responder does beside the fix. `finish` asks the proctor to check the outcome (steady state for
the stability window, every acknowledged write kept), then grades what the evidence shows the
trainee did (RUNBOOKS.md §4.2) and writes the record. `abort` rolls everything back ungraded.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from rich.text import Text

from drills.certification.errors import CertificationError
from drills.certification.identity import aws_access_key, provision_trainee, remove_trainee
from drills.certification.practicals import practical_for
from drills.certification.record import validate_trainee
from drills.certification.session import (
    SESSION_ENV,
    Announcement,
    SessionFiles,
    SessionState,
    TraineeEvent,
)
from drills.cli.certify_grading import grade_session, grading_policy
from drills.cli.certify_support import FAILED, CertifyContext, add_trainee_argument
from drills.cli.collect import collect_drills
from drills.cli.paths import ProjectPaths
from drills.cli.rollback import pending_refusal
from drills.cli.run import ensure_sandbox, load_selected_profile
from drills.core.actions import Source
from drills.core.catalogue import new_run_id
from drills.core.clock import DrillClock
from drills.core.errors import ConfigError, DrillError
from drills.core.halt import refuse_to_start
from drills.core.practical import Phase, Practical
from drills.core.profile import Profile, resolve_endpoints
from drills.core.safety import RollbackLedger
from drills.core.waiting import wait_until
from drills.sandbox.aws import DUMMY_CREDENTIALS, set_recording

__all__ = ["PRACTICAL_ACTIONS", "add_practical_parsers"]

ANNOUNCE_GRACE_S = 180.0  # start: steady state, Locust and the injection, beyond the profile's
PROCTOR_EXIT_S = 240.0  # finish/abort: verification, the ledger, rollbacks
PRACTICALS = Path("fixtures") / "practicals.py"


def add_practical_parsers(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the practical's actions to `drills certify`."""
    start = actions.add_parser("start", help="inject a hidden fault for a trainee to recover")
    start.add_argument("drill", metavar="DRILL", help="the drill id, e.g. crashloop-rollback")
    add_trainee_argument(start)
    start.add_argument("--env", default="sandbox", help="environment profile (default sandbox)")
    pick = start.add_mutually_exclusive_group()
    pick.add_argument("--variant", help="the variant to inject (default: --random)")
    pick.add_argument("--random", action="store_true", help="pick a variant at random")
    start.add_argument("--seed", type=int, help="seed of the random pick (recorded)")
    start.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply every budget (rehearsals and scripted trainees; the grade shows it)",
    )
    actions.add_parser("status", help="the practical's clock, budgets and what was recorded")
    actions.add_parser("ack", help="acknowledge the page")
    page = actions.add_parser("page", help="escalate: page the next level")
    page.add_argument("--level", type=int, required=True, help="the level paged (2, 3)")
    for name, what in (("notice", "the incident notice"), ("postmortem", "the post-mortem")):
        parser = actions.add_parser(name, help=f"record {what} (a text file)")
        parser.add_argument("file", type=Path, metavar="FILE")
    actions.add_parser("finish", help="the trainee is done: check the outcome and grade")
    actions.add_parser("abort", help="roll everything back; no grade")


# -- start -----------------------------------------------------------------------------------
def start_action(args: argparse.Namespace, context: CertifyContext) -> int:
    """Inject the hidden variant, print the page, return while the trainee works."""
    paths = context.paths
    trainee = validate_trainee(args.trainee)
    practical = _practical(args.drill)
    if args.variant is not None:
        _variant(practical, args.variant, 0)  # a wrong variant is named before anything runs
    profile = _profile(paths, args.env)
    _refuse_unproctored(paths, practical, args.env)
    if args.time_scale <= 0:
        raise CertificationError("--time-scale must be above zero, e.g. 0.05")
    files = SessionFiles.of(paths.root)
    if files.exists():
        files.create(files.read_state())  # raises, naming the running practical
    _refuse_busy(paths, profile)
    _refuse_pending_rollbacks(paths)
    if profile.targets.kind == "sandbox":
        ensure_sandbox(paths, profile, context.console)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    variant = _variant(practical, args.variant, seed)
    identity = provision_trainee(
        trainee,
        sandbox_state=paths.root / ".drills" / "sandbox",
        certify_dir=paths.root / ".drills" / "certify",
        admin_dsn=_admin_dsn(paths, profile),
    )
    state = SessionState(
        trainee=trainee,
        drill_id=practical.drill_id,
        variant=variant,
        env=args.env,
        run_id=new_run_id(context.clock),
        report_dir=str(files.directory / "run"),
        started_at=context.clock.wall().isoformat(),
        seed=seed,
        time_scale=args.time_scale,
        kubeconfig=str(identity.kubeconfig),
        dsn=identity.dsn or "",
    )
    files.create(state)
    _record_aws(paths, profile, on=True)
    proctor = _launch_proctor(paths, files, state)
    files.write_state(replace(state, proctor_pid=proctor.pid))
    announced = _await_announcement(files, proctor, profile, context.clock)
    if announced is None:
        return _start_failed(context, files, state)
    _say_page(context, practical, state, announced)
    return 0


def _practical(drill_id: str) -> Practical:
    try:
        return practical_for(drill_id)
    except ConfigError as exc:
        raise CertificationError(str(exc)) from exc


def _profile(paths: ProjectPaths, env: str) -> Profile:
    try:
        return load_selected_profile(paths, env, ())
    except ConfigError as exc:
        raise CertificationError(str(exc)) from exc


def _refuse_unproctored(paths: ProjectPaths, practical: Practical, env: str) -> None:
    """A practical runs only where `fixtures/practicals.py` has its proctor."""
    where = paths.root / PRACTICALS
    if not where.is_file():
        raise CertificationError(f"no practicals at {where}: this project has no proctor")
    try:
        proctored = {d.id for d in collect_drills(paths.root, where, [f"--drill-env={env}"])}
    except ConfigError as exc:
        raise CertificationError(str(exc)) from exc
    if practical.drill_id not in proctored:
        raise CertificationError(
            f"the {practical.drill_id} practical is graded but has no proctor yet (it cannot be "
            f"injected); practicals you can start: {', '.join(sorted(proctored)) or 'none'}"
        )


def _variant(practical: Practical, wanted: str | None, seed: int) -> str:
    if wanted is not None:
        try:
            return practical.variant(wanted).id
        except ConfigError as exc:
            raise CertificationError(str(exc)) from exc
    return random.Random(seed).choice([v.id for v in practical.variants])


def _refuse_busy(paths: ProjectPaths, profile: Profile) -> None:
    """A practical is a run against the environment: its proctor takes the same run lock."""
    try:
        refuse_to_start(paths.root, profile.name, profile.halt_file)
    except ConfigError as exc:
        raise CertificationError(str(exc)) from exc


def _refuse_pending_rollbacks(paths: ProjectPaths) -> None:
    pending = RollbackLedger(paths.ledger).pending()
    if pending:
        raise CertificationError(pending_refusal(pending, paths.ledger))


def _admin_dsn(paths: ProjectPaths, profile: Profile) -> str | None:
    try:
        endpoints = resolve_endpoints(profile.targets, paths.root, os.environ)
    except ConfigError as exc:
        raise CertificationError(str(exc)) from exc
    return endpoints.admin_dsn


def _launch_proctor(
    paths: ProjectPaths, files: SessionFiles, state: SessionState
) -> subprocess.Popen[bytes]:
    """Start the background pytest that injects, watches and verifies the practical."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(paths.root / PRACTICALS),
        f"--rootdir={paths.root}",
        f"--drill-report-dir={state.report_dir}",
        f"--drill-run-id={state.run_id}",
        f"--drill-ledger={paths.ledger}",
        f"--drill-profiles-dir={paths.profiles}",
        f"--drill-env={state.env}",
        f"--drill-id={state.drill_id}",
        f"--junitxml={Path(state.report_dir) / 'junit.xml'}",
        "-q",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
    ]
    log = files.log.open("wb")
    return subprocess.Popen(
        command,
        cwd=paths.root,
        env={**os.environ, SESSION_ENV: str(files.directory)},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the trainee's Ctrl-C in this shell must not reach it
    )


def _await_announcement(
    files: SessionFiles, proctor: subprocess.Popen[bytes], profile: Profile, clock: DrillClock
) -> Announcement | None:
    """The proctor's announcement, or None once it exited or took too long."""
    wait_until(
        lambda: files.announcement() is not None or proctor.poll() is not None,
        clock=clock,
        timeout_s=profile.waits.steady_state_timeout_s + ANNOUNCE_GRACE_S,
        poll_s=0.5,
        raise_on_timeout=False,
        description="the proctor announces the fault",
    )
    return files.announcement()


def _start_failed(context: CertifyContext, files: SessionFiles, state: SessionState) -> int:
    _stop_proctor(state, context.clock)
    tail = _log_tail(files)
    _cleanup(context, files, state)
    context.console.print(
        Text.assemble(
            ("error:", "red"),
            " the practical could not start (the fault was not injected, or its rollback ran); "
            f"the proctor's log ends:\n{tail}",
        )
    )
    return FAILED


def _say_page(
    context: CertifyContext, practical: Practical, state: SessionState, announced: Announcement
) -> None:
    say = context.console.print
    say(Text.assemble(("PAGE ", "bold red"), announced.page), highlight=False)
    say(f"since {announced.injected_at} · runbook {practical.runbook} · trainee {state.trainee}")
    say(f"kubectl: export KUBECONFIG={state.kubeconfig}", markup=False, highlight=False)
    if state.dsn:
        say(f"psql:    psql '{state.dsn}'", markup=False, highlight=False)
    aws = _aws_line(context.paths, practical, state)
    if aws:
        say(f"aws:     {aws}", markup=False, highlight=False)
    say(
        "Work as the runbook says. Record as you go: `drills certify ack`, `drills certify page "
        "--level N`, `drills certify notice FILE`, `drills certify postmortem FILE`; "
        "`drills certify status` shows the clock. When the service is back: `drills certify "
        "finish`.",
        markup=False,
        highlight=False,
    )


def _aws_line(paths: ProjectPaths, practical: Practical, state: SessionState) -> str | None:
    """How to reach the sandbox's AWS endpoint (moto) as the trainee, when the steps need it."""
    if Source.AWS not in practical.sources(state.variant):
        return None
    endpoint = _sandbox_aws_endpoint(paths, _profile(paths, state.env))
    if endpoint is None:
        return None  # elsewhere the trainee's own AWS credentials and endpoints apply
    return (
        f"export AWS_ACCESS_KEY_ID={aws_access_key(state.trainee)} "
        f"AWS_SECRET_ACCESS_KEY={DUMMY_CREDENTIALS['aws_secret_access_key']} "
        f"AWS_DEFAULT_REGION={DUMMY_CREDENTIALS['region_name']}; "
        f"aws --endpoint-url {endpoint} s3 ls"
    )


def _sandbox_aws_endpoint(paths: ProjectPaths, profile: Profile) -> str | None:
    """The endpoint of moto from the sandbox's endpoints.json; None outside the sandbox."""
    targets = profile.targets
    if targets.kind != "sandbox" or not targets.endpoints_file:
        return None
    try:
        found = json.loads((paths.root / targets.endpoints_file).read_text()).get("aws_endpoint")
    except (OSError, ValueError):
        return None
    return str(found) if found else None


def _record_aws(paths: ProjectPaths, profile: Profile, *, on: bool) -> None:
    """Have moto record every signed request while a practical runs (the AWS evidence)."""
    endpoint = _sandbox_aws_endpoint(paths, profile)
    if endpoint is None:
        return
    try:
        set_recording(endpoint, on=on)
    except DrillError:
        if on:
            raise
        # stopping is best effort: a sandbox that went down took the recording with it


# -- status, and what the trainee records ------------------------------------------------------
def status_action(args: argparse.Namespace, context: CertifyContext) -> int:
    """The clock since injection, the phase budgets and what was recorded so far."""
    del args
    files = SessionFiles.of(context.paths.root)
    state = files.read_state()
    announced = files.announcement()
    say = context.console.print
    say(f"practical for {state.trainee}, started {state.started_at} (variant hidden)")
    if announced is None:
        say("the fault is not injected yet")
        return 0
    say(Text.assemble(("page: ", "bold"), announced.page), highlight=False)
    elapsed = context.clock.wall() - datetime.fromisoformat(announced.injected_at)
    say(f"clock: {elapsed.total_seconds():.0f} s since injection (time scale {state.time_scale:g})")
    for phase, budget_s in _budgets(_profile(context.paths, state.env), state):
        say(f"  {phase}: within {budget_s:.0f} s")
    for event in files.trainee_events():
        say(f"  recorded {event.kind} at {event.at}", markup=False, highlight=False)
    if not _alive(state.proctor_pid):
        say("[red]the proctor is not running[/]: `drills certify abort`, then `drills rollback`")
    return 0


def _budgets(profile: Profile, state: SessionState) -> list[tuple[str, float]]:
    policy = grading_policy(profile, state.time_scale)
    budgets = [("acknowledge", policy.scaled(policy.ack_within_s))]
    return budgets + [(str(p), policy.phase_budget_s(p)) for p in Phase]


def ack_action(args: argparse.Namespace, context: CertifyContext) -> int:
    """Record the acknowledgement."""
    del args
    return _record(context, "ack")


def page_action(args: argparse.Namespace, context: CertifyContext) -> int:
    """Record an escalation to `--level`."""
    if args.level < 2:
        raise CertificationError("--level is the level paged next: 2 or more")
    return _record(context, "page", level=args.level)


def notice_action(args: argparse.Namespace, context: CertifyContext) -> int:
    """Record the incident notice (the communication template, filled in)."""
    return _record(context, "notice", source=args.file)


def postmortem_action(args: argparse.Namespace, context: CertifyContext) -> int:
    """Record the post-mortem (its timeline is compared with the journal)."""
    return _record(context, "postmortem", source=args.file)


def _record(
    context: CertifyContext, kind: str, *, level: int | None = None, source: Path | None = None
) -> int:
    files = SessionFiles.of(context.paths.root)
    files.read_state()  # a clear error when no practical runs
    text = ""
    if source is not None:
        try:
            text = source.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CertificationError(f"cannot read {source}: {exc.strerror}") from exc
        if not text:
            raise CertificationError(f"{source} is empty; write the {kind} first")
    at = context.clock.wall().isoformat()
    files.record(TraineeEvent(kind, at, level=level, text=text, source=str(source or "")))
    context.console.print(f"recorded {kind} at {at}", markup=False, highlight=False)
    return 0


# -- finish and abort --------------------------------------------------------------------------
def finish_action(args: argparse.Namespace, context: CertifyContext) -> int:
    """Ask the proctor to verify the outcome, then grade and record the practical."""
    del args
    files = SessionFiles.of(context.paths.root)
    state = files.read_state()
    finished_at = context.clock.wall()
    files.request("finish", at=finished_at)
    context.console.print("checking the outcome (steady state for the stability window) ...")
    if not _await_exit(state, context.clock):
        _stop_proctor(state, context.clock)
    announced = files.announcement()
    if announced is None:
        _cleanup(context, files, state)
        raise CertificationError("the fault was never injected: nothing to grade")
    profile = _profile(context.paths, state.env)
    graded = grade_session(context, files, state, announced, finished_at, profile)
    _cleanup(context, files, state)
    context.console.print(graded.text, markup=False, highlight=False)
    context.console.print(f"grade: {graded.page}", markup=False, highlight=False)
    return 0 if graded.passed else FAILED


def abort_action(args: argparse.Namespace, context: CertifyContext) -> int:
    """Roll the practical back without a grade."""
    del args
    files = SessionFiles.of(context.paths.root)
    state = files.read_state()
    files.request("abort", at=context.clock.wall())
    stopped = _await_exit(state, context.clock)
    if not stopped:
        _stop_proctor(state, context.clock)
    _cleanup(context, files, state)
    pending = RollbackLedger(context.paths.ledger).pending()
    if pending:
        context.console.print(
            f"[red]{len(pending)} rollback(s) still pending[/]: run `drills rollback` (or, for "
            "one that cannot run and was put right by hand, `drills rollback --discard ID "
            "--reason TEXT`)"
        )
        return FAILED
    context.console.print("aborted: the fault is rolled back, nothing was graded")
    return 0


def _await_exit(state: SessionState, clock: DrillClock, timeout_s: float = PROCTOR_EXIT_S) -> bool:
    """Whether the proctor ended within `timeout_s`."""
    return wait_until(
        lambda: not _alive(state.proctor_pid),
        clock=clock,
        timeout_s=timeout_s,
        poll_s=0.5,
        raise_on_timeout=False,
        description="the proctor ends",
    ).met


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child (another shell started it): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return not _zombie(pid)
    return waited == 0


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _stop_proctor(state: SessionState, clock: DrillClock) -> None:
    """SIGTERM the proctor's process group: its rollbacks run on the way out."""
    if state.proctor_pid is None or not _alive(state.proctor_pid):
        return
    os.killpg(os.getpgid(state.proctor_pid), signal.SIGTERM)
    _await_exit(state, clock, timeout_s=60.0)


def _cleanup(context: CertifyContext, files: SessionFiles, state: SessionState) -> None:
    """Drop the trainee's identities and the session; the evidence was moved already."""
    profile = _profile(context.paths, state.env)
    remove_trainee(
        state.trainee,
        certify_dir=context.paths.root / ".drills" / "certify",
        admin_dsn=_admin_dsn_quiet(context.paths, profile),
    )
    _record_aws(context.paths, profile, on=False)
    files.clear()


def _admin_dsn_quiet(paths: ProjectPaths, profile: Profile) -> str | None:
    try:
        return _admin_dsn(paths, profile)
    except CertificationError:
        return None  # the environment is gone: its role went with it


def _log_tail(files: SessionFiles, lines: int = 25) -> str:
    try:
        text = files.log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


PRACTICAL_ACTIONS = {
    "start": start_action,
    "status": status_action,
    "ack": ack_action,
    "page": page_action,
    "notice": notice_action,
    "postmortem": postmortem_action,
    "finish": finish_action,
    "abort": abort_action,
}
