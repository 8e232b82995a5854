"""RUNBOOKS.md §3.8 `backup-verification`: prove the backups restore, under user traffic.

No fault: a routine check of the backup chain, which is broken silently when it is broken
([000]: HIGH). The drill prepares a real chain (fixtures/backups.py: a CronJob whose Jobs run
`pg_dump | gzip` to S3, the database's RDS record), lets the schedule make a backup, then runs
the runbook's six steps in its order:

1. retention: `describe-db-instances` BackupRetentionPeriod, expect 7 [000];
2. the newest three backups and their age: the newest no older than the database RPO (15 min
   [002]), and a schedule that allows it;
3. job health: the CronJob, its last scheduled Job (succeeded) and that Job's log;
4. a manual backup, `kubectl create job --from=cronjob/...`, timed;
5. a test restore of the newest dump into a throwaway instance registered on RDS, row counts
   and checksums against the source at the dump's point, then the throwaway instance deleted
   (`delete-db-instance --skip-final-snapshot`; one left behind is a FAIL);
6. the retention clean-up in its safe form: by age, keeping 30 days [002]. The seed's command
   keeps 30 *objects* (RUNBOOKS §5.2) and is never run; the report says what it would remove.

Figures: the newest backup's age (the RPO's evidence), the manual backup's duration, the test
restore's duration (the database RTO's evidence, 1 h [002]), rows and checksums, and the users'
error ratio against the error budget. Every finding is collected, so one run names every broken
link; the drill FAILs with all of them. Variants are the runbook's negatives (fixtures/backups.py).
"""

from __future__ import annotations

import uuid

import pytest

from drills import CouldNotVerify, Drill, Profile, Workload, endpoints_listed, replicas_ready
from drills.core.backups import (
    KEEP_DAYS,
    SEED_KEEP_COUNT,
    BackupObject,
    cleanup_by_age,
    judge_freshness,
    judge_job_health,
    judge_retention,
    newest_first,
    schedule_gap_s,
    seed_cleanup,
)
from drills.core.conditions import Observation
from drills.core.objectives import ObjectiveKind
from drills.targets.adapters.backups import RestoreOutcome, restore_dump
from fixtures.backups import Backups, TestInstance
from fixtures.load import Traffic

MINUTE_S = 60.0
SCHEDULE_GRACE_S = 40.0  # past the next scheduled minute: the Job's pod starts and uploads
JOB_WAIT_S = 120.0
VARIANTS = ("healthy", "truncated", "suspended", "retention-low", "stale")


@pytest.mark.gate
@pytest.mark.drill(
    id="backup-verification",
    runbook="RUNBOOKS.md §3.8",
    service="database",
    severity="HIGH",
    variants=VARIANTS,
)
def test_backup_verification(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    drill_variant: str,
    shop: Workload,
    traffic: Traffic,
    backups: Backups,
) -> None:
    limits = drill_profile.thresholds
    serving = replicas_ready(shop) & endpoints_listed(shop) & traffic.users_ok(drill, limits)
    findings: list[str] = []
    drill.prepare(backups.chain)
    traffic.start()
    drill.expect_steady_state(serving)
    started_s = drill.clock.now()

    with drill.step(f"The schedule runs: wait for cronjob/{backups.jobs.name}'s next Job"):
        _await_schedule(drill, backups)
    with drill.step("aws rds describe-db-instances: BackupRetentionPeriod, expect 7"):
        _retention(drill, backups, findings)
    with drill.step("Newest three backups and their age"):
        _newest_three(drill, backups, findings)
    with drill.step("Job health: kubectl get cronjobs, kubectl logs -l job-name=<last Job>"):
        _job_health(drill, backups, findings)
    with drill.step(f"Manual backup: kubectl create job --from=cronjob/{backups.jobs.name}"):
        _manual_backup(drill, backups, findings)
    with drill.step("Test restore: the newest dump into a throwaway instance"):
        outcome, instance = _test_restore(drill, backups, findings)
    with drill.step("Check the data: row counts and checksums vs the source"):
        _check_data(drill, outcome, findings)
    with drill.step("aws rds delete-db-instance --skip-final-snapshot: the throwaway gone"):
        _delete_throwaway(drill, instance, findings)
    with drill.step(f"Retention clean-up, safe form: remove only backups older than {KEEP_DAYS} d"):
        _cleanup(drill, backups, findings)

    _judge_users(drill, traffic, started_s, limits.error_budget, findings)
    if findings:
        raise AssertionError("backups broken: " + "; ".join(findings))


def _await_schedule(drill: Drill, backups: Backups) -> None:
    """Until the first scheduled Job ended, or the next scheduled minute (plus grace) passed.

    The chain is this drill's, so its first backup comes at the schedule's next minute. A
    schedule with more than a minute between runs will not run inside the drill: no wait, and
    step 2 judges the schedule instead.
    """
    schedule = backups.settings.schedule
    gap = schedule_gap_s(schedule)
    if gap is None or gap > MINUTE_S:
        drill.record_figure(
            "wait for the scheduled backup",
            0.0,
            "s",
            detail=f"schedule '{schedule}': its next run is beyond this drill; not awaited",
            no_target="set-up: the drill made the chain, so it waits for the schedule's first run",
        )
        return
    wall = drill.clock.wall()
    timeout = MINUTE_S - wall.second - wall.microsecond / 1e6 + SCHEDULE_GRACE_S

    def scheduled_done() -> Observation:
        runs = [r for r in backups.jobs.runs() if r.scheduled]
        done = [r for r in runs if r.finished]
        return Observation(bool(done), f"{len(runs)} scheduled Job(s), {len(done)} finished")

    started = drill.clock.now()
    waited = drill.wait_until(
        scheduled_done,
        timeout_s=timeout,
        poll_s=1.0,
        raise_on_timeout=False,
        description="the CronJob's scheduled backup",
    )
    drill.record_figure(
        "wait for the scheduled backup",
        drill.clock.now() - started,
        "s",
        detail=waited.last.detail if waited.met else f"no Job ended within {timeout:.0f} s",
        no_target="set-up: the drill made the chain, so it waits for the schedule's first run",
    )


def _retention(drill: Drill, backups: Backups, findings: list[str]) -> None:
    days, window = backups.rds.retention(backups.chain.plan.rds_id)
    drill.record_figure(
        "backup retention",
        None if days is None else float(days),
        "days",
        detail=f"{backups.chain.plan.rds_id}: PreferredBackupWindow {window or 'none'}",
        no_target="the runbook expects exactly 7 [000]; a finding otherwise",
    )
    _finding(drill, findings, judge_retention(days))


def _newest_three(drill: Drill, backups: Backups, findings: list[str]) -> None:
    found = newest_first(backups.objects.listed())
    snapshots = backups.rds.snapshots(backups.chain.plan.rds_id)
    rpo = drill.spec.objective(ObjectiveKind.RPO)
    rpo_s = rpo.target_s if rpo is not None else 900.0
    newest = found[0].age_s if found else None
    listed = ", ".join(b.describe() for b in found[:3]) or "none"
    drill.record_figure(
        "newest backup age",
        newest,
        "s",
        target=rpo_s,
        detail=f"{backups.objects.where()}: {listed}; describe-db-snapshots: "
        + (", ".join(f"{i} at {t}" for i, t in snapshots[-3:]) or "none"),
    )
    drill.judge_evidence(
        ObjectiveKind.RPO,
        newest,
        "the newest backup's age: what a loss now would cost"
        if newest is not None
        else "no backup to date",
    )
    state = backups.jobs.state()
    suspended = bool(state and state.suspended)
    schedule = state.schedule if state else backups.settings.schedule
    _finding(drill, findings, judge_freshness(newest, rpo_s, schedule, suspended=suspended))


def _job_health(drill: Drill, backups: Backups, findings: list[str]) -> None:
    state = backups.jobs.state()
    runs = backups.jobs.runs()
    scheduled = [r for r in runs if r.scheduled]
    log = ""
    if scheduled:
        log = backups.jobs.logs(scheduled[0].name).strip()
    drill.record_figure(
        "scheduled backup Jobs",
        float(len(scheduled)),
        "Jobs",
        detail=(state.describe() if state else "no CronJob")
        + (f"; last Job {scheduled[0].name} log: {log[-300:] or '(empty)'}" if scheduled else ""),
        no_target="job health is judged on the last scheduled Job (a finding otherwise)",
    )
    _finding(drill, findings, judge_job_health(runs, suspended=bool(state and state.suspended)))


def _manual_backup(drill: Drill, backups: Backups, findings: list[str]) -> None:
    name = f"{backups.jobs.name}-manual-{uuid.uuid4().hex[:5]}"
    started = drill.clock.now()
    backups.jobs.create_job_from_cronjob(name)

    def finished() -> Observation:
        run = next((r for r in backups.jobs.runs() if r.name == name), None)
        state = "not listed" if run is None else f"succeeded {run.succeeded}, failed {run.failed}"
        return Observation(run is not None and run.finished, f"job/{name}: {state}")

    waited = drill.wait_until(
        finished, timeout_s=JOB_WAIT_S, poll_s=0.5, description=f"job/{name} finished"
    )
    run = next(r for r in backups.jobs.runs() if r.name == name)
    log = backups.jobs.logs(name).strip()
    drill.record_figure(
        "manual backup duration",
        drill.clock.now() - started,
        "s",
        detail=f"{waited.last.detail}; log: {log[-300:] or '(empty)'}",
        no_target="how long an on-demand backup takes; the test restore carries the RTO",
    )
    if not run.succeeded:
        _finding(drill, findings, f"the manual backup job/{name} failed: {log[-200:]}")


def _test_restore(
    drill: Drill, backups: Backups, findings: list[str]
) -> tuple[RestoreOutcome | None, TestInstance]:
    found = newest_first(backups.objects.listed())
    instance = backups.test_instance()
    if not found:
        _finding(drill, findings, "no backup to restore")
        return None, instance
    newest = found[0]
    started = drill.clock.now()
    drill.prepare(instance)
    packed, metadata = backups.objects.fetch(newest.key)
    outcome = restore_dump(newest.key, packed, metadata, instance.server, work=backups.work_dir)
    took = drill.clock.now() - started
    rto = drill.spec.objective(ObjectiveKind.RTO)
    drill.record_figure(
        "test restore duration",
        took,
        "s",
        target=None if rto is None else rto.target_s,
        detail=f"{newest.describe()} into {instance.plan.rds_id}: {outcome.summary()}",
        no_target="" if rto is not None else "the service has no RTO objective",
    )
    drill.judge_evidence(
        ObjectiveKind.RTO,
        took if outcome.ok else None,
        "the test restore's duration (instance, fetch, load, not the checks)"
        if outcome.ok
        else f"no complete restore to time: {outcome.summary()}",
    )
    if not outcome.complete:
        _finding(
            drill,
            findings,
            f"the newest backup {newest.key} is truncated: pg_dump's closing line "
            "'-- PostgreSQL database dump complete' is missing",
        )
    if outcome.error:
        _finding(drill, findings, f"the test restore failed: {outcome.error}")
    return outcome, instance


def _check_data(drill: Drill, outcome: RestoreOutcome | None, findings: list[str]) -> None:
    if outcome is None or outcome.verification is None:
        drill.record_figure(
            "restored rows", None, "rows", no_target="nothing was restored to compare"
        )
        return
    check = outcome.verification
    drill.record_figure(
        "restored rows",
        float(outcome.restored_rows),
        "rows",
        detail=check.detail,
        no_target="compared table by table with the source at the dump's point",
    )
    drill.record_figure(
        "tables differing from the source",
        float(len(check.mismatched) + len(check.missing)),
        "tables",
        target=0.0,
        detail=check.detail,
    )
    if not check.ok:
        _finding(drill, findings, f"the restored data differs from the source: {check.detail}")


def _delete_throwaway(drill: Drill, instance: TestInstance, findings: list[str]) -> None:
    instance.rds.delete(instance.plan.rds_id)
    instance.server.remove()
    left = instance.gone()
    drill.record_figure(
        "throwaway instances left",
        float(len(left)),
        "instances",
        target=0.0,
        detail=", ".join(left) or f"{instance.plan.rds_id} deleted, its local server removed",
    )
    if left:
        _finding(drill, findings, f"the throwaway instance was left behind: {', '.join(left)}")


def _cleanup(drill: Drill, backups: Backups, findings: list[str]) -> None:
    found = backups.objects.listed()
    doomed, kept = cleanup_by_age(found)
    would = seed_cleanup(found)
    drill.say(
        f"RUNBOOKS §5.2: the seed's clean-up keeps the newest {SEED_KEEP_COUNT} objects whatever "
        f"their age and is not run; it would remove {len(would)} of {len(found)} here. The safe "
        f"form removes only objects older than {KEEP_DAYS} days."
    )
    backups.objects.delete([b.key for b in doomed])
    after = {b.key for b in backups.objects.listed()}
    young_removed = [b for b in kept if b.key not in after]
    drill.record_figure(
        "backups removed by the clean-up",
        float(len(doomed)),
        "objects",
        detail=_ages(doomed, kept),
        no_target=f"only objects older than {KEEP_DAYS} days may go",
    )
    drill.record_figure(
        "backups younger than 30 days removed",
        float(len(young_removed)),
        "objects",
        target=0.0,
        detail=", ".join(b.key for b in young_removed) or f"all {len(kept)} kept",
    )
    if young_removed:
        _finding(drill, findings, f"the clean-up removed backups younger than {KEEP_DAYS} days")


def _ages(doomed: list[BackupObject], kept: list[BackupObject]) -> str:
    oldest = max((b.age_s for b in kept), default=None)
    told = f"{len(kept)} kept (oldest {oldest:.0f} s)" if oldest is not None else "none kept"
    return f"{len(doomed)} older than {KEEP_DAYS} d removed; {told}"


def _judge_users(
    drill: Drill, traffic: Traffic, since_s: float, budget: float, findings: list[str]
) -> None:
    window = traffic.recorder.window(since_s, drill.clock.now())
    drill.record_figure(
        "error ratio during the checks",
        window.error_ratio,
        "ratio",
        target=budget,
        detail=f"{window.failures} of {window.count} requests failed",
    )
    if not window.count or window.error_ratio is None:
        raise CouldNotVerify(
            "no user request completed during the checks, so the error budget cannot be "
            "judged; check that the load generator reached the service"
        )
    if window.error_ratio > budget:
        _finding(
            drill,
            findings,
            f"users saw {window.error_ratio:.2%} errors during the checks, over the "
            f"{budget:.2%} budget",
        )


def _finding(drill: Drill, findings: list[str], reason: str | None) -> None:
    if reason is not None:
        findings.append(reason)
        drill.say(f"FINDING: {reason}")
