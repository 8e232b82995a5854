"""Turn what happened in a drill into one verdict and a reason, in one function."""

from __future__ import annotations

from collections.abc import Sequence

from drills.core.errors import (
    CouldNotVerify,
    InjectionFailed,
    LedgerMismatch,
    RecoveryStepMissing,
    RpoBreached,
    RtoBreached,
    SteadyStateNotMet,
)
from drills.core.objectives import ObjectiveResult, Verdict, combine

__all__ = ["decide"]

_FAILS = (RtoBreached, RpoBreached, LedgerMismatch, RecoveryStepMissing, AssertionError)
# A fault that did not take effect (InjectionFailed) leaves nothing to judge recovery from.
_UNVERIFIABLE = (SteadyStateNotMet, CouldNotVerify, InjectionFailed)


def decide(
    objectives: Sequence[ObjectiveResult],
    error: BaseException | None,
    *,
    rollback_failures: int = 0,
    dry_run: bool = False,
) -> tuple[Verdict, str]:
    """Return the drill's verdict and why.

    ERROR when the harness broke (unexpected exception, failed rollback, abort); FAIL when an
    objective was breached or a required step/check failed; COULD_NOT_VERIFY when a check could
    not run, the fault did not take effect (InjectionFailed) or nothing was judged; PASS only
    when every judged objective passed.
    """
    if rollback_failures:
        return Verdict.ERROR, f"{rollback_failures} rollback(s) failed; run `drills rollback`"
    if dry_run:
        return Verdict.COULD_NOT_VERIFY, "dry run: the plan was printed, nothing acted"
    if error is not None:
        return _from_error(objectives, error)
    verdict = combine(o.verdict for o in objectives)
    if not objectives:
        return verdict, "no objective was evaluated (call assert_rto / assert_rpo)"
    return verdict, "; ".join(o.summary() for o in objectives)


def _from_error(objectives: Sequence[ObjectiveResult], error: BaseException) -> tuple[Verdict, str]:
    message = f"{type(error).__name__}: {error}"
    if isinstance(error, _FAILS):
        return Verdict.FAIL, message
    if isinstance(error, _UNVERIFIABLE):
        judged = combine(o.verdict for o in objectives) if objectives else None
        return (Verdict.FAIL if judged is Verdict.FAIL else Verdict.COULD_NOT_VERIFY), message
    return Verdict.ERROR, message
