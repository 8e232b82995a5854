"""The drill runner scenarios talk to: timed steps, faults (rollback first), recovery, objectives.

One `Drill` per scenario. Use it as a context manager (the pytest plugin does): on exit every
rollback runs in reverse order, whatever happened (success, failure, exception, Ctrl-C), and the
single verdict is computed and published through `DrillEvents`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol

from drills.core import waiting
from drills.core.clock import DrillClock, wall_at
from drills.core.conditions import ConditionLike, Observation
from drills.core.dataloss import DataLossReport, LedgerLimits, extra_rows_breaches, judge_rpo
from drills.core.errors import (
    CouldNotVerify,
    DrillAborted,
    DrillError,
    LedgerMismatch,
    RecoveryStepMissing,
    RpoBreached,
    RtoBreached,
    SteadyStateNotMet,
    WaitTimeout,
)
from drills.core.events import DrillEvents, DrillStarted, StepStarted
from drills.core.incident import Milestone, PhaseBudgets
from drills.core.journal import (
    DrillRecord,
    FaultRecord,
    Figure,
    RollbackRecord,
    Sample,
    StepOutcome,
    StepRecord,
)
from drills.core.objectives import Objective, ObjectiveKind, ObjectiveResult, Verdict, evaluate
from drills.core.safety import RollbackEntry, RollbackLedger
from drills.core.verdicts import decide
from drills.core.waiting import Waited

__all__ = ["DefaultWaits", "Drill", "DrillSpec", "DryRunHalt", "Fault"]


class Fault(Protocol):
    """Something a drill breaks on purpose, with the data needed to undo it."""

    @property
    def kind(self) -> str:
        """The rollback kind (the name `drills rollback` finds its undo function by)."""
        ...

    @property
    def target(self) -> str:
        """What the fault touches, e.g. `default/deployment/shop`."""
        ...

    def describe(self) -> str:
        """One line for the plan and the report."""
        ...

    def rollback_entry(self) -> RollbackEntry:
        """What `drills rollback` needs to undo this fault from another process."""
        ...

    def apply(self) -> None:
        """Break the target; raise InjectionFailed if it could not, or did not take effect."""
        ...

    def rollback(self) -> None:
        """Undo the fault; must be idempotent (it may also run from `drills rollback`)."""
        ...


_INTERMEDIATE = "an intermediate milestone: TTR is the recovery judged against the RTO"


class _GuardedClock:
    """The drill's clock: a sleep on the drill's own thread stops once the drill is aborted.

    Every wait in the layers below (a repoint's rollout, a restore, the archiver) sleeps on the
    clock it was given, so handing them `drill.clock` puts all of them under the kill switch
    without each knowing about it. Other threads (the kill switch, samplers) are not stopped,
    and neither are the rollbacks and clean-ups while the drill finishes.
    """

    def __init__(self, inner: DrillClock, drill: Drill) -> None:
        self._inner, self._drill, self._thread = inner, drill, threading.get_ident()

    def now(self) -> float:
        return self._inner.now()

    def wall(self) -> datetime:
        return self._inner.wall()

    def sleep(self, seconds: float) -> None:
        self._guard()
        self._inner.sleep(seconds)
        self._guard()

    def _guard(self) -> None:
        if threading.get_ident() == self._thread and not self._drill.finishing:
            self._drill.raise_if_aborted()


class DryRunHalt(Exception):
    """Raised at the first injection of a dry run: the plan is printed, nothing acts."""


@dataclass(frozen=True)
class DefaultWaits:
    """Bounds for waits when the scenario does not say otherwise."""

    steady_state_timeout_s: float = 60.0
    stability_window_s: float = 10.0
    poll_s: float = 0.2


@dataclass(frozen=True)
class DrillSpec:
    """What a drill is: its id, the runbook section it drills, its service and objectives."""

    id: str
    runbook: str
    service: str
    severity: str = ""
    objectives: tuple[Objective, ...] = ()
    waits: DefaultWaits = field(default_factory=DefaultWaits)
    ledger: LedgerLimits = field(default_factory=LedgerLimits)
    phases: PhaseBudgets = field(default_factory=PhaseBudgets)
    dry_run: bool = False
    run_id: str = ""
    variant: str = ""  # the variant this run drills ("" when the drill has none)

    def objective(self, kind: ObjectiveKind, service: str | None = None) -> Objective | None:
        """The objective of `kind` for `service` (default: the drill's service)."""
        wanted = service or self.service
        return next((o for o in self.objectives if o.kind is kind and o.service == wanted), None)


@dataclass
class _Undo:
    name: str
    kind: str
    target: str
    action: Callable[[], None]
    entry_id: str = ""


class Drill:
    """Runs one scenario's fault, recovery and assertions on one clock; see module docstring."""

    def __init__(
        self,
        spec: DrillSpec,
        *,
        clock: DrillClock,
        events: DrillEvents,
        ledger: RollbackLedger,
        say: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.spec, self.events, self.ledger, self.say = spec, events, ledger, say
        self.clock: DrillClock = _GuardedClock(clock, self)
        self.started_s = clock.now()
        self.fault_at_s: float | None = None  # injection began: the RTO clock starts here
        self.fault_landed_at_s: float | None = None  # the first fault's apply() returned
        self.recovered_at_s: float | None = None
        self._recovery_gave_up_s: float | None = None
        self._steps: list[StepRecord] = []
        self._faults: list[FaultRecord] = []
        self._figures: list[Figure] = []
        self._milestones: set[Milestone] = set()
        self._objectives: list[ObjectiveResult] = []
        self._rollbacks: list[RollbackRecord] = []
        self._undo: list[_Undo] = []
        self.record: DrillRecord | None = None
        self._abort_lock = threading.Lock()
        self._abort_reason: str | None = None
        self._finishing = False  # rollbacks and clean-ups run: waits no longer abort

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Drill:
        started = DrillStarted(self.spec.id, self.spec.runbook, self.spec.service, self._iso())
        self.events.drill_started.fire(started)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self.finish(exc)
        return isinstance(exc, DryRunHalt)

    def finish(self, error: BaseException | None = None) -> DrillRecord:
        """Run every rollback (newest first), compute the verdict, publish the record."""
        if self.record is not None:
            return self.record
        self._finishing = True
        failures = self._run_rollbacks()
        self._record_unmeasured_milestones(error)
        verdict, reason = decide(
            self._objectives,
            None if isinstance(error, DryRunHalt) else error,
            rollback_failures=failures,
            dry_run=self.spec.dry_run,
        )
        self.record = self._build_record(verdict, reason)
        self.events.drill_finished.fire(self.record)
        return self.record

    # -- vocabulary --------------------------------------------------------------------------
    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a named runbook step; its outcome follows how the block ends."""
        self.raise_if_aborted()
        start = self.clock.now()
        outcome, detail = StepOutcome.OK, ""
        self.events.step_started.fire(StepStarted(name, start - self.started_s))
        try:
            yield
        except (
            AssertionError,
            RtoBreached,
            RpoBreached,
            LedgerMismatch,
            RecoveryStepMissing,
        ) as exc:
            outcome, detail = StepOutcome.FAILED, str(exc)
            raise
        except DryRunHalt:
            outcome, detail = StepOutcome.SKIPPED, "dry run"
            raise
        except BaseException as exc:
            outcome, detail = StepOutcome.ERROR, f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._finish_step(name, start, outcome, detail)

    def inject(self, fault: Fault) -> None:
        """Record the rollback on disk, then apply the fault; the RTO clock starts before apply.

        The outage begins when injection begins: filling a pool or a slow destructive statement
        is part of it. So `fault_at_s` (the RTO start) is taken before `apply()` runs and
        `fault_landed_at_s` once it returned; the journal's fault record keeps both moments.
        InjectionFailed from the fault (it did not take effect) ends the drill COULD_NOT_VERIFY;
        a SafetyViolation or another DrillError passes through unchanged; any other exception
        is a broken harness or target (ERROR). The rollback runs in every case.
        Under --dry-run the plan and its rollback are printed and DryRunHalt stops the drill.
        """
        if self.spec.dry_run:
            self._record_fault(fault, self.clock.now(), None)
        self._record_rollback(fault, "inject")
        started_s = self.clock.now()
        if self.fault_at_s is None:
            self.fault_at_s = started_s
        try:
            fault.apply()
        except DrillError:
            raise
        except Exception as exc:
            raise DrillError(
                f"injecting '{fault.describe()}' broke: {type(exc).__name__}: {exc}; "
                "its rollback runs, check the target"
            ) from exc
        landed_s = self.clock.now()
        if self.fault_landed_at_s is None:
            self.fault_landed_at_s = landed_s
        self._record_fault(fault, started_s, landed_s)

    def prepare(self, change: Fault) -> None:
        """Record `change`'s rollback on disk, then apply it, without starting the RTO clock.

        For what a drill must set up before its steady state is measured, because the fault
        needs it (e.g. a login role with a password, so that the credential can be rotated): it
        is not a fault, so it is not journaled as one and the RTO does not run from it, but it
        is undone with the faults (newest first) and replayed by `drills rollback` after a
        crash like them. Any exception from `apply()` other than a DrillError becomes a
        DrillError (ERROR); the rollback runs in every case. Under --dry-run the plan and the
        rollback are printed and DryRunHalt stops the drill before anything acts.
        """
        self._record_rollback(change, "prepare")
        try:
            change.apply()
        except DrillError:
            raise
        except Exception as exc:
            raise DrillError(
                f"preparing '{change.describe()}' broke: {type(exc).__name__}: {exc}; "
                "its rollback runs, check the target"
            ) from exc

    def _record_rollback(self, fault: Fault, verb: str) -> None:
        """Put the rollback on disk and on the undo stack (dry run: print it and halt)."""
        entry = fault.rollback_entry()
        if self.spec.dry_run:
            self.say(f"[dry-run] would {verb}: {fault.describe()}")
            self.say(f"[dry-run] rollback: {entry.kind} on {entry.target} {dict(entry.args)}")
            raise DryRunHalt(fault.describe())
        stamped = RollbackEntry(
            entry.kind, entry.target, entry.args, entry.entry_id, self.spec.run_id, self.spec.id
        )
        self.ledger.record(stamped)
        self._undo.append(
            _Undo(fault.describe(), entry.kind, entry.target, fault.rollback, stamped.entry_id)
        )
        self.events.rollback_recorded.fire(stamped)

    def abort(self, reason: str) -> None:
        """Ask the drill to stop (thread-safe; the first reason wins).

        The next step start or condition poll raises DrillAborted; the drill then runs its
        rollbacks and ends ERROR with the reason. Used by the load kill switch.
        """
        with self._abort_lock:
            if self._abort_reason is None:
                self._abort_reason = reason

    @property
    def finishing(self) -> bool:
        """True once rollbacks and clean-ups run: from then on nothing aborts a wait."""
        return self._finishing

    @property
    def abort_reason(self) -> str | None:
        """Why the drill was aborted, or None while it may go on."""
        with self._abort_lock:
            return self._abort_reason

    def raise_if_aborted(self) -> None:
        """Raise DrillAborted when `abort` was called; long custom loops should call this."""
        reason = self.abort_reason
        if reason is not None:
            raise DrillAborted(f"drill aborted: {reason}; rollbacks run, check the system")

    def wait_until(  # noqa: PLR0913 - every argument is keyword-only and named for what it is
        self,
        check: ConditionLike,
        *,
        timeout_s: float,
        poll_s: float | None = None,
        stable_for_s: float = 0.0,
        description: str = "condition",
        raise_on_timeout: bool = True,
    ) -> Waited:
        """The drill's one wait: poll `check` on the drill clock, guarded by the kill switch.

        Before every poll it raises DrillAborted once `abort` was called (the kill switch
        tripped, the load generator died), so no wait lets users fail on after the switch.
        Scenarios and fixtures wait only through this (tests/unit/test_guarded_waits.py); the
        bare `drills.core.waiting.wait_until` is for the library below them, whose waits the
        drill's clock guards when they sleep on `drill.clock` (`_GuardedClock`). While the drill
        finishes (rollbacks, deferred clean-ups) the guard is off: those must run to the end.
        `poll_s` defaults to the profile's poll; otherwise as `drills.core.waiting.wait_until`
        (WaitTimeout on timeout unless `raise_on_timeout` is False).
        """
        return waiting.wait_until(
            self._guarded(check),
            clock=self.clock,
            timeout_s=timeout_s,
            poll_s=self.spec.waits.poll_s if poll_s is None else poll_s,
            stable_for_s=stable_for_s,
            description=description,
            raise_on_timeout=raise_on_timeout,
        )

    def _guarded(self, condition: ConditionLike) -> ConditionLike:
        def check() -> Observation | bool:
            if not self._finishing:
                self.raise_if_aborted()
            return condition()

        return check

    def defer(self, name: str, action: Callable[[], None]) -> None:
        """Run `action` when the drill ends (with the rollbacks, newest first); not on disk."""
        self._undo.append(_Undo(name, "cleanup", name, action))

    def expect_steady_state(
        self,
        condition: ConditionLike,
        *,
        timeout_s: float | None = None,
        stable_for_s: float | None = None,
    ) -> Waited:
        """Require the system to be healthy before the fault; otherwise COULD_NOT_VERIFY."""
        waits = self.spec.waits
        try:
            return self.wait_until(
                condition,
                timeout_s=waits.steady_state_timeout_s if timeout_s is None else timeout_s,
                stable_for_s=waits.stability_window_s if stable_for_s is None else stable_for_s,
                description="steady state before the fault",
            )
        except WaitTimeout as exc:
            raise SteadyStateNotMet(
                f"the system was not healthy before the fault, so recovery cannot be judged: {exc}"
            ) from exc

    def await_recovery(
        self,
        condition: ConditionLike,
        *,
        timeout_s: float,
        stable_for_s: float | None = None,
        milestone: str | None = None,
    ) -> Waited:
        """Wait until `condition` holds for the stability window; sets the recovery time.

        The last call's success is the recovery `assert_rto` judges and records as TTR. Name an
        intermediate wait's `milestone` (e.g. "serving path back") to record its time since the
        fault as a figure of its own (no target: TTR is the judged one). On timeout the RTO is
        judged at once: FAIL when the wait already outlasted the target (the measured figure is
        a lower bound), COULD_NOT_VERIFY when the timeout was shorter.
        """
        stable = self.spec.waits.stability_window_s if stable_for_s is None else stable_for_s
        waited = self.wait_until(
            condition,
            timeout_s=timeout_s,
            stable_for_s=stable,
            description="recovery",
            raise_on_timeout=False,
        )
        if waited.met:
            self.recovered_at_s = self.clock.now()
            if milestone is not None:
                self.record_since_fault(milestone, no_target=_INTERMEDIATE)
            return waited
        self._recovery_gave_up_s = self.clock.now()
        self._judge_unrecovered(waited)
        raise AssertionError("unreachable: _judge_unrecovered always raises")

    def record_figure(  # noqa: PLR0913 - the figure's fields, keyword-only after the unit
        self,
        name: str,
        value: float | None,
        unit: str,
        *,
        target: float | None = None,
        detail: str = "",
        no_target: str = "",
    ) -> Figure:
        """Record a measured figure (value None: not measured) beside its target.

        Every figure has a target or says in `no_target` why it has none (the report prints
        it); tests/unit/test_figures_have_targets.py checks each call in the code base.
        """
        offset_s = self.clock.now() - self.started_s
        figure = Figure(name, value, unit, target, offset_s, detail, no_target)
        self._figures.append(figure)
        self.events.figure_recorded.fire(figure)
        return figure

    def record_samples(self, series: str, points: Iterable[tuple[float, float]]) -> None:
        """Publish timeline points `(monotonic_s, value)` of one series, e.g. `replicas ready`."""
        samples = tuple(Sample(series, at - self.started_s, value) for at, value in points)
        if samples:
            self.events.samples_recorded.fire(samples)

    def record_since_fault(
        self, name: str, *, target_s: float | None = None, no_target: str = "", detail: str = ""
    ) -> Figure:
        """Record seconds from the start of injection until now under `name`."""
        value = None if self.fault_at_s is None else self.clock.now() - self.fault_at_s
        return self.record_figure(
            name, value, "s", target=target_s, detail=detail, no_target=no_target
        )

    # -- the incident timings (drills.core.incident) -------------------------------------------
    def record_detected(self, detail: str = "", *, target_s: float | None = None) -> Figure:
        """TTD: the drill's alert condition holds now (target: the profile's detect budget)."""
        target = self.spec.phases.detect_s if target_s is None else target_s
        return self._milestone(Milestone.TTD, self._since_fault(), target, detail)

    def record_not_detected(self, reason: str) -> Figure:
        """TTD without a value: the alert condition was never seen, and why."""
        return self._milestone(Milestone.TTD, None, self.spec.phases.detect_s, reason)

    def record_mitigated(self, value_s: float | None, detail: str) -> Figure:
        """TTM, measured on the user-side stream (`drills.core.incident.time_to_mitigate`)."""
        return self._milestone(Milestone.TTM, value_s, self.spec.phases.mitigate_s, detail)

    def has_recorded(self, milestone: Milestone) -> bool:
        """Whether `milestone` was recorded already (each is recorded once)."""
        return milestone in self._milestones

    def _since_fault(self) -> float | None:
        return None if self.fault_at_s is None else self.clock.now() - self.fault_at_s

    def _milestone(
        self, milestone: Milestone, value_s: float | None, target_s: float | None, detail: str
    ) -> Figure:
        if milestone in self._milestones:
            raise DrillError(f"{milestone} is recorded once per drill; this is a harness bug")
        self._milestones.add(milestone)
        reason = "" if target_s is not None else "the service has no RTO objective"
        text = f"{milestone.meaning}; {detail}" if detail else milestone.meaning
        return self.record_figure(
            milestone.value, value_s, "s", target=target_s, detail=text, no_target=reason
        )

    def _record_unmeasured_milestones(self, error: BaseException | None) -> None:
        """Record the timings the drill did not reach, without a value and with the reason."""
        if self.fault_at_s is None or self.spec.dry_run:
            return
        why = (
            f"not measured: the drill ended first ({type(error).__name__}: {error})"
            if error is not None
            else "not measured: the drill never reached this point"
        )
        objective = self.spec.objective(ObjectiveKind.RTO)
        targets = {
            Milestone.TTD: self.spec.phases.detect_s,
            Milestone.TTM: self.spec.phases.mitigate_s,
            Milestone.TTR: None if objective is None else objective.target_s,
        }
        for milestone, target in targets.items():
            if milestone not in self._milestones:
                self._milestone(milestone, None, target, why)

    def rto_target_s(self, service: str | None = None) -> float:
        """The RTO target in seconds: waiting for recovery any longer cannot change a FAIL."""
        return self._objective(ObjectiveKind.RTO, service).target_s

    def assert_rto(self, service: str | None = None) -> ObjectiveResult:
        """Judge fault → recovered-and-stable against the RTO; raise RtoBreached on FAIL."""
        objective = self._objective(ObjectiveKind.RTO, service)
        if self.fault_at_s is None or self.recovered_at_s is None:
            result = self._judge(objective, None, "no fault or no confirmed recovery to time")
            raise CouldNotVerify(result.summary())
        measured_s = self.recovered_at_s - self.fault_at_s
        if not self.has_recorded(Milestone.TTR):
            self._milestone(Milestone.TTR, measured_s, objective.target_s, "")
        result = self._judge(objective, measured_s)
        if result.verdict is Verdict.FAIL:
            raise RtoBreached(result.summary())
        return result

    def judge_evidence(
        self,
        kind: ObjectiveKind,
        measured_s: float | None,
        detail: str = "",
        service: str | None = None,
    ) -> ObjectiveResult:
        """Judge an objective on evidence, for a drill that injects no fault; never raises.

        A routine check (RUNBOOKS.md §3.8, the backups) has no outage to time: what it measures
        stands for the objective instead, e.g. a test restore's duration for the RTO and the
        newest backup's age for the RPO. `measured_s` None: not measured (COULD_NOT_VERIFY).
        The result counts in the verdict like `assert_rto`'s; the caller decides when to stop.
        """
        return self._judge(self._objective(kind, service), measured_s, detail)

    def assert_rpo(
        self,
        report: DataLossReport | None,
        service: str | None = None,
        *,
        lossless: bool = False,
    ) -> ObjectiveResult:
        """Judge the ledger comparison: the lost span against the RPO, then the extra rows.

        None means the comparison could not run, and a ledger with no write acknowledged before
        the fault proves nothing: both raise CouldNotVerify. `lossless=True` declares a fault
        that touches no data, so any lost acknowledged write is a FAIL whatever span it covers
        (RpoBreached naming some of them, see `core.dataloss.judge_rpo`). Duplicated or
        unexplained rows beyond the spec's `ledger` limits raise LedgerMismatch (FAIL).
        """
        objective = self._objective(ObjectiveKind.RPO, service)
        if report is None:
            result = self._judge(objective, None, "the write ledger could not be compared")
            raise CouldNotVerify(result.summary())
        self._record_ledger_figures(report, lossless=lossless)
        result = self._publish(judge_rpo(objective, report, lossless=lossless))
        if result.verdict is Verdict.COULD_NOT_VERIFY:
            raise CouldNotVerify(result.summary())
        if result.verdict is Verdict.FAIL:
            raise RpoBreached(result.summary())
        breaches = extra_rows_breaches(report, self.spec.ledger)
        if breaches:
            raise LedgerMismatch("; ".join(breaches))
        return result

    def _record_ledger_figures(self, report: DataLossReport, *, lossless: bool) -> None:
        newest = report.last_acknowledged_before_fault_s
        self.record_figure(
            "acknowledged writes",
            float(report.acknowledged),
            "writes",
            no_target="the size of the evidence: the RPO judges what of it was lost",
        )
        self.record_figure(
            "acknowledged writes before the fault",
            float(report.acknowledged_before_fault),
            "writes",
            detail="none: nothing to compare"
            if newest is None
            else f"the newest {report.fault_at_s - newest:.2f} s before the fault",
            no_target="evidence behind the RPO: with none, the RPO is COULD_NOT_VERIFY",
        )
        self.record_figure(
            "acknowledged writes lost",
            float(report.lost),
            "writes",
            target=0.0 if lossless else None,
            no_target="" if lossless else "the RPO objective judges the span they cover",
            detail=report.describe_lost()
            + ("; the fault touches no data" if lossless else "; RPO judges the span they cover"),
        )
        limits = self.spec.ledger
        self.record_figure(
            "duplicated acknowledged writes",
            float(len(report.duplicates)),
            "writes",
            target=float(limits.max_duplicates),
            detail=", ".join(report.duplicates[:3]),
        )
        self.record_figure(
            "unexpected rows",
            float(len(report.unexpected)),
            "rows",
            target=float(limits.unexpected_allowed(report.acknowledged)),
            detail="rows of this drill no acknowledged write explains (a request cut off after "
            f"its commit leaves one); limit {limits.max_unexpected_ratio:g} of acknowledged",
        )

    # -- internals ---------------------------------------------------------------------------
    def _objective(self, kind: ObjectiveKind, service: str | None) -> Objective:
        objective = self.spec.objective(kind, service)
        if objective is None:
            name = service or self.spec.service
            raise CouldNotVerify(
                f"no {kind} objective for service '{name}' in the profile; add "
                f'[services.{name}] {kind.lower()} = "15m" or pass '
                f"--objective {name}.{kind.lower()}=15m"
            )
        return objective

    def _judge(
        self, objective: Objective, measured_s: float | None, detail: str = ""
    ) -> ObjectiveResult:
        return self._publish(evaluate(objective, measured_s, detail))

    def _publish(self, result: ObjectiveResult) -> ObjectiveResult:
        self._objectives.append(result)
        self.events.objective_evaluated.fire(result)
        return result

    def _judge_unrecovered(self, waited: Waited) -> None:
        objective = self._objective(ObjectiveKind.RTO, None)
        since = (self._recovery_gave_up_s or 0.0) - (self.fault_at_s or self.started_s)
        seen = waited.last.detail
        if waited.last.ok:  # healthy at the end, but the streak was shorter than the window
            seen = f"healthy again, not yet for the whole stability window: {seen}"
        if not self.has_recorded(Milestone.TTR):
            detail = f"not recovered after {since:.1f} s; {seen}"
            self._milestone(Milestone.TTR, None, objective.target_s, detail)
        if since > objective.target_s:
            result = self._judge(objective, since, f"not recovered after {since:.1f} s; {seen}")
            raise RtoBreached(result.summary())
        result = self._judge(
            objective, None, f"gave up after {since:.1f} s, before the target; {seen}"
        )
        raise CouldNotVerify(result.summary())

    def _run_rollbacks(self) -> int:
        failures = 0
        while self._undo:
            undo = self._undo.pop()
            outcome, detail = "done", ""
            try:
                undo.action()
            except Exception as exc:
                failures += 1
                outcome, detail = "failed", f"{type(exc).__name__}: {exc}"
            if undo.entry_id:
                if outcome == "done":
                    self.ledger.mark_done(undo.entry_id)
                record = RollbackRecord(undo.entry_id, undo.kind, undo.target, outcome, detail)
                self._rollbacks.append(record)
                self.events.rollback_done.fire(record)
        return failures

    def _finish_step(self, name: str, start: float, outcome: StepOutcome, detail: str) -> None:
        end = self.clock.now()
        record = StepRecord(
            name=name,
            started_at=self._iso(start),
            ended_at=self._iso(end),
            outcome=outcome,
            offset_s=start - self.started_s,
            duration_s=end - start,
            detail=detail,
        )
        self._steps.append(record)
        self.events.step_finished.fire(record)

    def _record_fault(self, fault: Fault, started_s: float, landed_s: float | None) -> None:
        """Journal a fault: injection began at `started_s`, landed at `landed_s` (None: dry run)."""
        dry_run = landed_s is None
        record = FaultRecord(
            fault.kind,
            fault.target,
            fault.describe(),
            self._iso(started_s),
            started_s - self.started_s,
            dry_run,
            landed_at="" if landed_s is None else self._iso(landed_s),
            landed_offset_s=None if landed_s is None else landed_s - self.started_s,
        )
        self._faults.append(record)
        self.events.fault_injected.fire(record)

    def _iso(self, monotonic_s: float | None = None) -> str:
        at = self.clock.now() if monotonic_s is None else monotonic_s
        return wall_at(self.clock, at).isoformat()

    def _build_record(self, verdict: Verdict, reason: str) -> DrillRecord:
        end = self.clock.now()
        return DrillRecord(
            id=self.spec.id,
            runbook=self.spec.runbook,
            service=self.spec.service,
            severity=self.spec.severity,
            variant=self.spec.variant,
            verdict=verdict,
            reason=reason,
            started_at=self._iso(self.started_s),
            ended_at=self._iso(end),
            duration_s=end - self.started_s,
            objectives=tuple(self._objectives),
            steps=tuple(self._steps),
            faults=tuple(self._faults),
            rollbacks=tuple(self._rollbacks),
            figures=tuple(self._figures),
            report_incomplete=self.events.listener_failures() > 0,
        )
