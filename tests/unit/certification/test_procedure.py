"""The drill's own [004] procedure judged by the `snapshot-restore` practical's rules (§3.6)."""

from __future__ import annotations

from drills.certification.practicals import practical_for
from drills.certification.procedure import ProcedureJudgement, ProcedureLog, judge_procedure
from drills.core.objectives import Verdict

T0 = 1_800_000_000.0  # the fault, epoch seconds
NEWEST = "snapshots/dump-20270115T080000-abcdef/dump.pgc"


def performed(*, restore_at: float) -> ProcedureLog:
    """The variant's calls: assess, stop, logs, evidence, list, fetch, restore (at +restore_at)."""
    log = ProcedureLog("default", "shop", "primary")
    log.statement(T0 + 1, "SELECT order_key FROM orders", agent="drills", succeeded=False)
    log.scaled(T0 + 2, 0)
    log.read_logs(T0 + 2.1, "shop-abc")
    log.statement(T0 + 4, "pg_dump -Z 6 -f evidence_1.sql.gz", agent="pg_dump")
    log.s3(T0 + 5, "ListObjectsV2", "snapshots/")
    log.s3(T0 + 5.1, "GetObject", NEWEST)
    log.statement(T0 + restore_at, "COPY public.orders FROM stdin; -- newest", agent="pg_restore")
    log.scaled(T0 + 9, 10)
    log.actions.sort(key=lambda a: a.at_s)
    return log


def judge(log: ProcedureLog) -> ProcedureJudgement:
    return judge_procedure(
        practical_for("snapshot-restore"),
        "drop-table",
        log,
        injected_at_s=T0,
        finished_at_s=T0 + 60,
    )


def test_the_runbook_order_passes_steps_and_order() -> None:
    judged = judge(performed(restore_at=6))
    assert (judged.steps.verdict, judged.order.verdict) == (Verdict.PASS, Verdict.PASS)
    assert judged.verdict is Verdict.PASS
    assert judged.reasons() == []


def test_restoring_before_writes_stop_fails_on_the_order_naming_it() -> None:
    judged = judge(performed(restore_at=1.5))
    assert judged.order.verdict is Verdict.FAIL
    assert judged.verdict is Verdict.FAIL
    assert judged.reasons() == [
        "order: restore (+1.5s) came before stop-writes (+2s); the runbook does stop-writes first",
        "order: restore (+1.5s) came before preserve-evidence (+4s); the runbook does "
        "preserve-evidence first",
    ]


def test_a_missing_evidence_dump_fails_the_steps() -> None:
    log = performed(restore_at=6)
    log.actions = [a for a in log.actions if a.agent != "pg_dump"]
    judged = judge(log)
    assert judged.steps.verdict is Verdict.FAIL
    assert any("preserve-evidence" in r for r in judged.reasons())


def test_actions_before_the_fault_do_not_count() -> None:
    log = performed(restore_at=6)
    judged = judge_procedure(
        practical_for("snapshot-restore"),
        "drop-table",
        log,
        injected_at_s=T0 + 3,  # the stop, the logs and the count are before this window
        finished_at_s=T0 + 60,
    )
    assert judged.steps.verdict is Verdict.FAIL
    assert any("stop-writes" in r for r in judged.reasons())
