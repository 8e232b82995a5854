"""RUNBOOKS.md §3.16 `worker-queue-backlog`: background work stalls while users keep ordering.

Every order the shop acknowledges carries a confirmation task (its outbox row is written in the
order's transaction, fixtures/shop/app.py); Celery workers (`shop-worker`, the seed's
`celery-worker`) consume it from the Redis queue `celery`. The drill prepares that queue on the
sandbox (fixtures/worker_queue.py), drives Locust traffic, breaks one part, and performs the
runbook's recovery in its order, each step named and timed:

1. `kubectl get pods | grep celery`, `kubectl logs deployment/celery-worker`;
2. `redis-cli LLEN celery`, `redis-cli LLEN celery:failed`, `redis-cli PING`;
3. `kubectl rollout restart deployment/celery-worker`, `kubectl scale ... --replicas=3`;
4. (broker-down) the broker back: the seed's `kubectl rollout restart deployment/redis` is, on
   the sandbox, the Redis server started again on its address;
5. failed tasks: `redis-cli LRANGE celery:failed 0 -1`, read only. The seed's "retry", `celery
   purge`, deletes every queued task (§5.2): never run; the report says so.

Variants: `workers-down` (the default: the workers scaled to 0 under load; the backlog grows;
TTD is the queue BACKLOG_RISE tasks over its pre-fault depth), `broker-down` (Redis stopped,
its rollback starts it again: the shop keeps accepting orders and its outbox relay sends their
tasks once the broker is back; TTD is the first failed PING), `poison` (orders whose task
always fails: after its retries each lands in `celery:failed`, the queue still drains; TTD is
the first one there).

Judged: the queue back at its pre-fault depth with the workers Ready and users served (TTR, the
shop's RTO 15 min [002]); users inside `[thresholds] error_budget` (a stalled queue must not
fail an order); the task ledger (drills.core.tasks): no accepted task without an outcome
(completed, or failed into `celery:failed`), duplicates counted and reported; no acknowledged
order lost.
"""

from __future__ import annotations

import os

import pytest

from drills import Database, Drill, Profile, Workload, endpoints_listed, replicas_ready
from drills.core.conditions import Condition, Observation
from drills.core.profile import Endpoints
from drills.core.tasks import TaskAccount, backlog_alert, describe_lost
from drills.faults.broker import PoisonOrders, StopBroker
from drills.faults.pods import BadSettings, ScaleTo
from drills.pytest_plugin.context import DrillContext
from drills.targets.adapters.kube import KubeApi
from fixtures.kube import cluster_bound
from fixtures.load import Traffic, judge_error_budget
from fixtures.worker_queue import (
    BACKLOG_RISE,
    BROKER_DOWN,
    POISON,
    VARIANTS,
    WORKER,
    WORKER_REPLICAS,
    WORKERS_DOWN,
    QueuePorts,
    purge_defect,
    queue_ports,
    rolled_out,
    tasks_flowing,
    workers_ready,
)

WAIT_CAP_S = 120.0  # each wait is bounded; the RTO verdict still uses the profile's target
QUIET_FOR_S = 3.0  # nothing queued, nothing unsent this long: every task has had its chance
_NEVER_PURGED = (
    "`celery -A app.core.celery_app purge` (the seed's retry) is not run: it deletes every "
    "queued task, accepted orders' included (RUNBOOKS §5.2); failed tasks are read, not purged"
)
_PART = "a part of the recovery: TTR is judged against the RTO"


@pytest.fixture
def worker_queue(
    drill_context: DrillContext,
    drill_profile: Profile,
    drill_endpoints: Endpoints,
    kube_api: KubeApi,
    shop: Workload,
) -> QueuePorts:
    """The broker, the workers and the task records of the sandbox (fixtures/worker_queue.py)."""
    return queue_ports(drill_context.root, drill_profile, drill_endpoints, kube_api, shop)


@pytest.mark.drill(
    id="worker-queue-backlog",
    runbook="RUNBOOKS.md §3.16",
    service="shop",
    severity="P2",  # the seeds state none (§3.16); confirmations late, orders still served
    variants=VARIANTS,
)
def test_worker_queue_backlog(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_variant: str,
    drill_profile: Profile,
    drill_endpoints: Endpoints,
    shop: Workload,
    traffic: Traffic,
    database: Database,
    worker_queue: QueuePorts,
) -> None:
    ports, limits = worker_queue, drill_profile.thresholds
    purge = purge_defect(os.environ)
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, limits)
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    _prepare(drill, ports, drill_endpoints)
    traffic.start()
    workers = workers_ready(ports.worker)
    drill.expect_steady_state(
        serving & users_ok & rolled_out(shop) & workers & tasks_flowing(ports)
    )
    baseline = _baseline_depth(drill, ports)

    poison_ids: list[str] = []
    if drill_variant == WORKERS_DOWN:
        _workers_down(drill, ports, drill_profile, drill_endpoints, baseline)
    elif drill_variant == BROKER_DOWN:
        _broker_down(drill, ports)
    elif drill_variant == POISON:
        poison_ids = _poison(drill, ports)
    else:
        raise pytest.UsageError(
            f"worker-queue-backlog has no variant {drill_variant!r}: {VARIANTS}"
        )
    purged = _recover(drill, ports, drill_endpoints, drill_variant, purge=purge)

    with drill.step("Verify: the backlog back at its pre-fault depth, workers Ready, users served"):
        drill.await_recovery(
            _drained(drill, ports, baseline) & workers & users_ok, timeout_s=_left(drill)
        )
        drill.record_samples("queue depth (LLEN celery)", ports.depths)
        drill.record_figure(
            "queue depth at its peak",
            max((d for _, d in ports.depths), default=0.0),
            "tasks",
            detail=f"before the fault at most {baseline}",
            no_target="the backlog the fault built; its drain to the pre-fault depth is judged",
        )
    users = traffic.record_user_side(drill, error_budget=limits.error_budget)
    drill.assert_rto()
    traffic.stop()  # every acknowledged order is in the ledger, and no new task comes
    account = _settle(drill, ports)
    _judge_tasks(drill, account, poison_ids, purged, ports.queue.unacknowledged())
    judge_error_budget(users, limits.error_budget)
    verified = traffic.verify_writes(drill, database, existing=existing)
    drill.assert_rpo(verified.report, lossless=True)  # a stalled queue must lose no order


def _left(drill: Drill) -> float:
    """Seconds left of the RTO target (capped), plus one so a timeout lands past it."""
    spent_s = drill.clock.now() - (drill.fault_at_s or drill.clock.now())
    return max(1.0, min(WAIT_CAP_S, drill.rto_target_s() - spent_s + 1.0))


def _prepare(drill: Drill, ports: QueuePorts, endpoints: Endpoints) -> None:
    """The queue under drill: the workers at the runbook's 3, BROKER_URL rolled out to the shop."""
    scale = ScaleTo(ports.worker, WORKER_REPLICAS)
    drill.prepare(cluster_bound(scale, ports.shop, endpoints))
    broker = BadSettings(ports.shop, {"BROKER_URL": ports.broker_url})
    drill.prepare(cluster_bound(broker, ports.shop, endpoints))
    ports.since = ports.records.now()
    drill.say(f"tasks counted from {ports.since} (the database's clock); broker {ports.broker_url}")


def _baseline_depth(drill: Drill, ports: QueuePorts) -> int:
    """The deepest of ten LLEN readings over about a second, before the fault."""
    readings: list[int] = []

    def sampled() -> Observation:
        depth = ports.sample_depth(drill)
        if depth is not None:
            readings.append(depth)
        return Observation(len(readings) >= 10, f"{len(readings)} readings")

    drill.wait_until(sampled, timeout_s=10, poll_s=0.1)
    baseline = max(readings)
    drill.record_figure(
        "queue depth before the fault",
        float(baseline),
        "tasks",
        detail=f"LLEN celery, deepest of {len(readings)} readings: {readings}",
        no_target="the level the backlog must come back to",
    )
    return baseline


def _workers_down(
    drill: Drill, ports: QueuePorts, profile: Profile, endpoints: Endpoints, baseline: int
) -> None:
    """The fault: every worker scaled away; detected when the backlog rises over the alert.

    It takes every worker away, so the profile's `[safety] max_fraction` must allow the whole
    group (the sandbox's does; staging's cap refuses it).
    """
    with drill.step(f"Fault: kubectl scale deployment/{WORKER} --replicas=0 (workers down)"):
        scale = ScaleTo(ports.worker, 0, profile.blast_radius)
        drill.inject(cluster_bound(scale, ports.shop, endpoints))
    with drill.step(f"Detect: LLEN celery {BACKLOG_RISE} over its pre-fault depth"):

        def rising() -> Observation:
            depth = ports.sample_depth(drill)
            ok = depth is not None and backlog_alert(depth, baseline, BACKLOG_RISE)
            return Observation(ok, f"LLEN celery = {depth} (before: at most {baseline})")

        seen = drill.wait_until(rising, timeout_s=60, poll_s=0.2, raise_on_timeout=False)
        if not seen.met:
            drill.record_not_detected(f"the backlog never rose: {seen.last.detail}")
            raise AssertionError(f"no backlog built up with the workers down: {seen.last.detail}")
        drill.record_detected(seen.last.detail)


def _broker_down(drill: Drill, ports: QueuePorts) -> None:
    """The fault: the broker stopped; detected by the first PING that fails."""
    where = {"root": str(ports.broker.root), "host": ports.broker.host}
    with drill.step("Fault: the broker (Redis) stops"):
        drill.inject(StopBroker(ports.broker, where))
    with drill.step("Detect: redis-cli PING fails"):
        seen = drill.wait_until(
            lambda: Observation(not ports.queue.ping()[0], ports.queue.ping()[1]),
            timeout_s=30,
            poll_s=0.2,
            raise_on_timeout=False,
        )
        if not seen.met:
            drill.record_not_detected(f"PING kept answering: {seen.last.detail}")
            raise AssertionError(f"the broker still answered after its stop: {seen.last.detail}")
        drill.record_detected(f"PING {ports.queue.address}: {seen.last.detail}")


def _poison(drill: Drill, ports: QueuePorts) -> list[str]:
    """The fault: orders whose task always fails; detected when the first lands in failed."""
    keys = ports.poison_keys()
    where = {"broker_url": ports.broker_url}
    with drill.step(f"Fault: {len(keys)} orders whose confirmation task always fails"):
        fault = PoisonOrders(ports.place_poison, ports.queue, keys, where)
        drill.inject(fault)
        drill.say(f"poison tasks: {', '.join(fault.task_ids)}")
    with drill.step("Detect: a poison task in celery:failed"):

        def landed() -> Observation:
            failed = {f.task_id for f in ports.queue.failed()}
            mine = [t for t in fault.task_ids if t in failed]
            return Observation(bool(mine), f"{len(mine)} of {len(fault.task_ids)} in celery:failed")

        seen = drill.wait_until(landed, timeout_s=60, poll_s=0.2, raise_on_timeout=False)
        if not seen.met:
            drill.record_not_detected(f"no poison task failed for good: {seen.last.detail}")
            raise AssertionError(
                f"the poison tasks never reached celery:failed: {seen.last.detail}"
            )
        drill.record_detected(seen.last.detail)
    return list(fault.task_ids)


def _recover(
    drill: Drill, ports: QueuePorts, endpoints: Endpoints, variant: str, *, purge: bool
) -> str:
    """Runbook steps 1-5 in order; returns what the defect's purge printed ("" without it)."""
    with drill.step(f"kubectl get pods | grep {WORKER}, kubectl logs deployment/{WORKER}"):
        pods = [p for p in ports.worker.pods() if not p.deleting]
        drill.say(
            f"{WORKER} pods: {', '.join(f'{p.name} ready={p.ready}' for p in pods) or 'none'}"
        )
        drill.say(ports.worker_logs())
    with drill.step("redis-cli LLEN celery, redis-cli LLEN celery:failed, redis-cli PING"):
        _read_queue(drill, ports)
    purged = ""
    if purge:
        with drill.step("celery -A app.core.celery_app purge (the seed's retry, run as written)"):
            purged = ports.queue.purge()
            drill.say(f"DEFECT {purged}: the queued tasks are deleted")
    with drill.step(
        f"kubectl rollout restart deployment/{WORKER}, "
        f"kubectl scale deployment/{WORKER} --replicas={WORKER_REPLICAS}"
    ):
        ports.worker.rollout_restart()
        ports.worker.scale(WORKER_REPLICAS)
        drill.say(f"{WORKER}: restarted, spec.replicas {ports.worker.desired_replicas()}")
        restarted_s = drill.clock.now()
    if variant == BROKER_DOWN:
        with drill.step(
            "Broker: kubectl rollout restart deployment/redis (sandbox: Redis started)"
        ):
            url = ports.broker.start()
            drill.say(f"the sandbox's broker is a Redis server, not a Deployment: started at {url}")
            drill.record_since_fault("broker back", detail=ports.queue.ping()[1], no_target=_PART)
    with drill.step("redis-cli LRANGE celery:failed 0 -1 (read only; never celery purge)"):
        failed = ports.queue.failed()
        drill.say(
            f"celery:failed holds {len(failed)}: "
            + "; ".join(
                f"{f.task_id} (order {f.order_key}, {f.attempts} attempts): {f.error}"
                for f in failed[:10]
            )
        )
        drill.say(_NEVER_PURGED)
    _time_to_drain(drill, ports, restarted_s)
    return purged


def _read_queue(drill: Drill, ports: QueuePorts) -> None:
    """Step 2's three readings, as figures (a broker that is down has no depth)."""
    answers, said = ports.queue.ping()
    depth = ports.sample_depth(drill)
    failed = len(ports.queue.failed()) if answers else None
    unsent = sum(1 for t in ports.records.accepted_since(ports.since) if not t.sent)
    detail = (
        f"PING: {said}; LLEN celery: {depth}; LLEN celery:failed: {failed}; "
        f"tasks waiting in the shop's outbox for the broker: {unsent}"
    )
    drill.say(detail)
    drill.record_figure(
        "queue depth at the runbook's check",
        None if depth is None else float(depth),
        "tasks",
        detail=detail,
        no_target="what step 2 read; the drain back to the pre-fault depth is judged",
    )


def _time_to_drain(drill: Drill, ports: QueuePorts, since_s: float) -> None:
    """From the restart command until LLEN celery is 0 (recorded, not judged: TTR is)."""
    seen = drill.wait_until(
        lambda: _depth_is(ports.sample_depth(drill), 0),
        timeout_s=WAIT_CAP_S,
        poll_s=0.2,
        raise_on_timeout=False,
    )
    drill.record_figure(
        "time to drain",
        drill.clock.now() - since_s if seen.met else None,
        "s",
        detail=f"from the workers' restart until LLEN celery read 0; {seen.last.detail}",
        no_target=_PART,
    )


def _depth_is(depth: int | None, want: int) -> Observation:
    return Observation(depth == want, f"LLEN celery read {depth}")


def _drained(drill: Drill, ports: QueuePorts, baseline: int) -> Condition:
    """LLEN celery at or under its pre-fault depth."""

    def check() -> Observation:
        depth = ports.sample_depth(drill)
        ok = depth is not None and depth <= baseline
        return Observation(ok, f"LLEN celery = {depth} (pre-fault at most {baseline})")

    return Condition("backlog_drained", check)


def _settle(drill: Drill, ports: QueuePorts) -> TaskAccount:
    """Once nothing is queued or unsent for QUIET_FOR_S, the task ledger is final: read it."""
    last: list[TaskAccount] = []

    def quiet() -> Observation:
        account = ports.account()
        last[:] = [account]
        depth = ports.sample_depth(drill)
        ok = account.settled or (depth == 0 and not account.unsent)
        return Observation(ok, f"LLEN celery {depth}; {account.describe()}")

    with drill.step("Task ledger: every accepted task completed or failed"):
        drill.wait_until(
            quiet,
            timeout_s=WAIT_CAP_S,
            poll_s=0.5,
            stable_for_s=QUIET_FOR_S,
            raise_on_timeout=False,
        )
        account = ports.account()
        drill.say(account.describe())
    return account


def _judge_tasks(
    drill: Drill,
    account: TaskAccount,
    poison_ids: list[str],
    purged: str,
    unacknowledged: list[str],
) -> None:
    """Figures of the ledger; FAIL naming the lost tasks, or a poison task that did not fail."""
    completed = sum(1 for t in account.accepted if t in account.completed)
    failed = sum(1 for t in account.accepted if t in account.failed)
    duplicated = account.duplicated
    drill.record_figure(
        "tasks accepted",
        float(len(account.accepted)),
        "tasks",
        detail=account.describe(),
        no_target="one per acknowledged order: the ledger's base",
    )
    drill.record_figure(
        "tasks completed",
        float(completed),
        "tasks",
        detail="task_results rows",
        no_target="every accepted task must complete or fail",
    )
    drill.record_figure(
        "tasks failed",
        float(failed),
        "tasks",
        detail="entries of celery:failed",
        no_target="the poison variant's tasks belong here",
    )
    drill.record_figure(
        "duplicate deliveries",
        float(sum(n - 1 for n in duplicated.values())),
        "deliveries",
        detail=", ".join(f"{t} x{n}" for t, n in list(duplicated.items())[:10]) or "none",
        no_target="at-least-once delivery allows repeats; counted and reported",
    )
    lost = account.lost
    drill.record_figure(
        "tasks lost",
        float(len(lost)),
        "tasks",
        target=0.0,
        detail=describe_lost(account) or "none",
    )
    misplaced = [t for t in poison_ids if t not in account.failed]
    if lost:
        why = f"; the queue was purged (celery purge: {purged})" if purged else ""
        held = sorted({t for t, _ in lost} & set(unacknowledged))
        if held:
            why += (
                f"; {len(held)} of them held unacknowledged in the broker (taken by a worker "
                f"that went away; redelivered only after the visibility timeout): {', '.join(held)}"
            )
        raise AssertionError(
            f"accepted tasks lost: {len(lost)} of {len(account.accepted)} accepted tasks have no "
            f"outcome (not completed in task_results, not in celery:failed): "
            f"{describe_lost(account)}{why}. Their orders were acknowledged, and nothing left "
            "will send their confirmations"
        )
    if misplaced:
        raise AssertionError(f"poison tasks did not land in celery:failed: {', '.join(misplaced)}")
