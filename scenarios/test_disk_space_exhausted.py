"""RUNBOOKS.md §3.15 `disk-space-exhausted`: the shop's log volume fills up.

What is real: a 16 MiB tmpfs (a filesystem with a hard cap, where a write past it fails with
ENOSPC) mounted under the project's state directory, and the shop's pods, rolled out with
LOG_DIR on it, append one access line per request there (fixtures/disk.py, fixtures/shop/app.py).
Before the steady state the volume is seeded as a live log volume is found: logs from 10 and 9
days ago, one from 3 days ago, one from today, a temp file and a small state file. Where no
tmpfs can be mounted (not root) or the pods do not run on this host, COULD_NOT_VERIFY says why.

Variants, each past the 90% critical line of [003] § Alert Thresholds:
- `ballast` (the default): `fallocate` a ballast file until the volume is 95% used.
- `runaway-log`: a release with LOG_LEVEL=DEBUG, whose every request writes 32 KiB of dump: the
  volume fills up, the shop's log writes fail (it reports them on stderr and keeps serving).

Recovery in the runbook's order ([003] § Issue 7), each a timed step: 1 `df -h`, `du -sh * |
sort -h` and the log directory's size (`docker system df` has nothing to read: no Docker owns
this volume); 2 now: delete `*.log` older than 7 days, the temp files and the ballast, never
`docker system prune -a --volumes` (RUNBOOKS.md §5.2: it can destroy a database host's data);
3 later: logrotate, `modify-volume`, shipping logs, recorded as advice, or for `runaway-log` the
log level restored by a rollout and the runaway logs truncated. Then verify.

Judged: an inventory of every file (path, size, mtime, SHA-256 of the small ones) taken before
the cleanup and compared after, so a cleanup that takes anything but old logs, temp files and
the ballast FAILs naming the file and its age; usage under 80% at the end; the shop's RTO
(15 min [002]); no acknowledged write lost (a full log volume must not touch the orders); users
inside `[thresholds] error_budget`. Measured beside them: usage over time, time above 90%,
time back under 80%, TTD (the first reading over 90%), the shop's failed log writes.
"""

from __future__ import annotations

import pytest

from drills import Database, Drill, Profile, Workload, endpoints_listed, replicas_ready
from drills.core.disk import (
    CRITICAL_USAGE,
    KEEP_LOGS_DAYS,
    WARNING_USAGE,
    CleanupRule,
    judge_cleanup,
    removable,
)
from drills.core.errors import CouldNotVerify
from drills.core.profile import Endpoints
from drills.faults.disk import Ballast
from drills.faults.pods import BadSettings
from drills.probes.rollout import rollout_complete
from fixtures.disk import (
    BALLAST_SHARE,
    DEBUG_LOG_BYTES,
    ROLLOUT_TIMEOUT_S,
    RUNAWAY_BYTES,
    SCOPE,
    DiskDrill,
    is_live,
)
from fixtures.kube import cluster_bound
from fixtures.load import Traffic, judge_error_budget

BALLAST, RUNAWAY_LOG = "ballast", "runaway-log"
VARIANTS = (BALLAST, RUNAWAY_LOG)
DEBUG_SETTINGS = {"LOG_LEVEL": "DEBUG", "DEBUG_LOG_BYTES": str(DEBUG_LOG_BYTES)}
DETECT_TIMEOUT_S = 120.0
WAIT_CAP_S = 300.0
STEP_MEASURE = "Runbook step 1: df -h; du -sh * | sort -h; size of the log directory"
STEP_CLEANUP = "Runbook step 2 (now): delete *.log older than 7 days, temp files, the ballast"
STEP_LATER = "Runbook step 3 (later): logrotate daily, 7 kept; modify-volume; ship logs"
STEP_RESTORE = "Runbook step 3: restore the log level (rollout), truncate the runaway logs"
_EVIDENCE = "evidence of the runbook's diagnosis, not judged"
_LATER = (
    "later, as advice only (RUNBOOKS.md §3.15 step 3, [003] § Issue 7): logrotate daily with 7 "
    "kept, compressed; `aws ec2 modify-volume --size 100` (moto state only in a sandbox, §5.1); "
    "ship the logs to CloudWatch Logs"
)


@pytest.mark.drill(
    id="disk-space-exhausted",
    runbook="RUNBOOKS.md §3.15",
    service="shop",
    severity="P1",  # disk over 90% is the critical line of [003]
    variants=VARIANTS,
)
def test_disk_space_exhausted(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    drill_endpoints: Endpoints,
    drill_variant: str,
    shop: Workload,
    traffic: Traffic,
    database: Database,
    disk: DiskDrill,
) -> None:
    reason = disk.unavailable()
    if reason is not None:
        raise CouldNotVerify(f"no size-capped volume to fill: {reason}")
    limits = drill_profile.thresholds
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, limits)
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    _prepare(drill, disk, drill_endpoints)
    traffic.start()
    drill.expect_steady_state(serving & users_ok & disk.usage_under(WARNING_USAGE))
    try:
        _inject(drill, disk, drill_variant, drill_endpoints)
        _detect(drill, disk)
        _measure(drill, disk)
        _clean_up(drill, disk)
        if drill_variant == RUNAWAY_LOG:
            _restore_log_level(drill, disk)
        else:
            with drill.step(STEP_LATER):
                drill.say(_LATER)
        with drill.step("Verify: usage under 80%, users served"):
            drill.await_recovery(
                serving & users_ok & disk.usage_under(WARNING_USAGE), timeout_s=_left_s(drill)
            )
            _judge_end_usage(drill, disk)
    finally:
        _record_usage(drill, disk)
    users = traffic.record_user_side(drill, error_budget=limits.error_budget)
    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    verified = traffic.verify_writes(drill, database, existing=existing)
    drill.assert_rpo(verified.report, lossless=True)  # a full log volume must not touch orders
    judge_error_budget(users, limits.error_budget)


def _left_s(drill: Drill) -> float:
    """What is left of the RTO target (at least a second), capped so no wait is unbounded."""
    spent_s = drill.clock.now() - (drill.fault_at_s or drill.clock.now())
    return min(WAIT_CAP_S, max(1.0, drill.rto_target_s() - spent_s + 1.0))


def _prepare(drill: Drill, disk: DiskDrill, endpoints: Endpoints) -> None:
    """Mount and seed the volume, then roll the shop out logging to it (rollbacks first)."""
    drill.prepare(disk.mount(drill))
    log_dir = BadSettings(disk.shop, {"LOG_DIR": str(disk.volume.root)})
    drill.prepare(cluster_bound(log_dir, disk.shop, endpoints))
    disk.start_sampling(drill)
    drill.wait_until(
        rollout_complete(disk.rollout) & disk.shop_logs_here(),
        timeout_s=ROLLOUT_TIMEOUT_S,
        description="the shop rolled out with its access log on the capped volume",
    )
    drill.say(f"the shop logs to {disk.volume.root}: {disk.volume.usage().describe()}")


def _inject(drill: Drill, disk: DiskDrill, variant: str, endpoints: Endpoints) -> None:
    if variant == RUNAWAY_LOG:
        release = BadSettings(disk.shop, DEBUG_SETTINGS)
        with drill.step("Fault: roll out LOG_LEVEL=DEBUG (runaway log output)"):
            drill.inject(cluster_bound(release, disk.shop, endpoints))
        return
    ballast = Ballast(disk.volume, SCOPE.ballast, BALLAST_SHARE)
    with drill.step(f"Fault: fallocate a ballast file to {BALLAST_SHARE:.0%} of the volume"):
        drill.inject(ballast)
        drill.say(f"ballast: {ballast.allocated // 1024} KiB at {ballast.target}")


def _detect(drill: Drill, disk: DiskDrill) -> None:
    """TTD: the first reading over the critical line (disk > 90% [003])."""
    with drill.step("Detect: disk usage over 90% (critical [003])"):
        seen = drill.wait_until(
            disk.usage_over(CRITICAL_USAGE),
            timeout_s=DETECT_TIMEOUT_S,
            poll_s=0.25,
            raise_on_timeout=False,
        )
        if not seen.met:
            drill.record_not_detected(seen.last.detail)
            raise CouldNotVerify(
                f"the volume never passed 90% within {DETECT_TIMEOUT_S:g} s "
                f"({seen.last.detail}), so the recovery cannot be judged"
            )
        drill.record_detected(f"df: {seen.last.detail}, over the 90% critical line [003]")


def _measure(drill: Drill, disk: DiskDrill) -> None:
    """Step 1: what `df -h`, `du -sh * | sort -h` and the log directory's size show."""
    with drill.step(STEP_MEASURE):
        usage = disk.sampler.read()
        biggest = disk.volume.biggest()
        drill.record_figure(
            "volume usage at diagnosis (df -h)",
            usage.share,
            "ratio",
            detail=usage.describe(),
            no_target=_EVIDENCE,
        )
        listing = ", ".join(f"{name} {size // 1024} KiB" for name, size in biggest)
        drill.record_figure(
            "log directory size (du -sh)",
            float(sum(size for _, size in biggest)),
            "bytes",
            detail=f"du -sh * | sort -h: {listing}",
            no_target=_EVIDENCE,
        )
        errors = disk.read_write_errors()
        drill.say(
            f"df -h: {usage.describe()}; du -sh * | sort -h: {listing}; the shop reports "
            f"{errors} failed log writes so far (kubectl logs); no Docker owns this volume, so "
            "`docker system df` has nothing to show"
        )


def _clean_up(drill: Drill, disk: DiskDrill) -> None:
    """Step 2 in its safe form; the inventory before and after judges what it took."""
    with drill.step(STEP_CLEANUP):
        now = drill.clock.wall().timestamp()
        before = disk.volume.inventory()
        doomed = removable(before, now_wall=now, rule=disk.rule, scope=SCOPE)
        freed = disk.volume.remove(e.path for e in doomed)
        after = {e.path: e for e in disk.volume.inventory()}
        live = [e.path for e in before if is_live(e.path)]
        wrong = judge_cleanup(before, after, now_wall=now, scope=SCOPE, live=live)
        ran = (
            f"find {disk.volume.root} -name '*.log' {disk.rule.value} -delete; "
            f"rm {SCOPE.temp_glob}; rm {SCOPE.ballast}"
        )
        drill.say(
            f"ran: {ran}. Not run: `docker system prune -a --volumes` (RUNBOOKS.md §5.2: on a "
            "database host it deletes volumes with their data); the find rule, the temp "
            "directory and the ballast are its safe form"
        )
        drill.record_figure(
            "files the cleanup removed",
            float(len(doomed)),
            "files",
            detail=f"{freed // 1024} KiB freed by `{ran}`: "
            + "; ".join(e.describe(now) for e in doomed),
            no_target="what the cleanup took; the inventory check below judges it",
        )
        drill.record_figure(
            "files the cleanup should have kept",
            float(len(wrong)),
            "files",
            target=0.0,
            detail="; ".join(wrong)
            or f"inventory of {len(before)} files: only logs older than "
            f"{KEEP_LOGS_DAYS:g} days, temp files and the ballast are gone",
        )
        if wrong:
            raise AssertionError(
                f"the cleanup (`{ran}`) took files the runbook keeps: {'; '.join(wrong)}; only "
                f"*.log older than {KEEP_LOGS_DAYS:g} days, temp files and the ballast may go"
                + (" (-mtime +0 is not -mtime +7)" if disk.rule is CleanupRule.FRESH_LOGS else "")
            )


def _restore_log_level(drill: Drill, disk: DiskDrill) -> None:
    """Step 3 for runaway-log: the release without DEBUG, then the runaway logs truncated."""
    with drill.step(STEP_RESTORE):
        disk.shop.set_envs(dict.fromkeys(DEBUG_SETTINGS))
        drill.wait_until(
            rollout_complete(disk.rollout),
            timeout_s=min(ROLLOUT_TIMEOUT_S, _left_s(drill)),
            description="the shop rolled out at the normal log level",
        )
        runaway = [e for e in disk.volume.inventory() if is_live(e.path)]
        runaway = [e for e in runaway if e.size > RUNAWAY_BYTES]
        truncated = sum(disk.volume.truncate(e.path) for e in runaway)
        drill.record_figure(
            "runaway log truncated",
            float(truncated),
            "bytes",
            detail=f"`: > file` on {', '.join(e.path for e in runaway) or 'nothing'} (logs over "
            f"{RUNAWAY_BYTES // 1024} KiB after the rollout back to INFO)",
            no_target=_EVIDENCE,
        )
        drill.say(_LATER)


def _judge_end_usage(drill: Drill, disk: DiskDrill) -> None:
    usage = disk.sampler.read()
    drill.record_figure(
        "volume usage at the end",
        usage.share,
        "ratio",
        target=WARNING_USAGE,
        detail=f"{usage.describe()}; under the 80% warning line [003] is the target",
    )
    if usage.share >= WARNING_USAGE:
        raise AssertionError(f"the volume is still {usage.describe()} after the recovery")


def _record_usage(drill: Drill, disk: DiskDrill) -> None:
    """Usage over time since the fault, and the shop's failed log writes."""
    series, since = disk.sampler.series, drill.fault_at_s
    if since is None:
        return
    peak = series.peak()
    drill.record_figure(
        "peak volume usage",
        peak,
        "ratio",
        detail=f"{len(series.points)} statvfs readings every 250 ms",
        no_target="how full it got; the 90% line decides TTD",
    )
    drill.record_figure(
        "time above 90%",
        series.time_above(CRITICAL_USAGE, since),
        "s",
        detail="while the critical alert [003] would hold",
        no_target="evidence; the RTO judges the recovery",
    )
    back = series.back_under(WARNING_USAGE, since)
    drill.record_figure(
        "time back under 80%",
        None if back is None else back - since,
        "s",
        detail="from the fault to the first reading under the warning line [003] after the last "
        "one at or above it" + ("" if back is not None else ": never seen"),
        no_target="evidence; the RTO judges the recovery (usage under 80% is part of it)",
    )
    errors = disk.read_write_errors()
    per_pod = ", ".join(f"{pod} {n}" for pod, n in sorted(disk.write_errors.items()) if n)
    drill.record_figure(
        "shop log writes failed",
        float(errors),
        "writes",
        detail=f"at least, as the pods report them (kubectl logs, read every second while they "
        f"run): {per_pod or 'none'}; each request was still served",
        no_target="the symptom ([003] 'logs not written'); users are judged by the error budget",
    )
