"""The incident timings every drill records, with one meaning each (RUNBOOKS.md §1 conventions).

- **TTD**, time to detect: from the start of injection until the drill's alert condition holds
  (the symptom the runbook's alert fires on: a replica missing, a pod crash-looping, a refused
  connection, the HPA under pressure, acknowledged data gone).
- **TTM**, time to mitigate: from the start of injection until user-visible failures stop,
  measured on the user-side request stream whatever the drill (the last failed user request
  that was followed by a served one).
- **TTR**, time to recover: from the start of injection until the steady state has held for the
  stability window: the measured RTO, judged against the service's RTO target.

Every drill records all three under the names below, so `drills history` and the report compare
like with like. A figure the drill could not measure is recorded without a value and with the
reason. TTD and TTM are held against the profile's phase budgets (`[phases]`, from the incident
template of 001_dba783835563cb30.txt: immediate actions within 5 min, investigation done within
15 min); TTR against the RTO.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Milestone", "MilestoneValue", "PhaseBudgets", "time_to_mitigate"]


class Milestone(StrEnum):
    """The three incident timings, by the figure name every drill records them under."""

    TTD = "TTD (time to detect)"
    TTM = "TTM (time to mitigate)"
    TTR = "TTR (time to recover)"

    @property
    def meaning(self) -> str:
        """What the figure measures, for the report."""
        return _MEANING[self]


_MEANING = {
    Milestone.TTD: "injection until the alert condition holds",
    Milestone.TTM: "injection until user-visible failures stop",
    Milestone.TTR: "injection until steady state held for the stability window (= measured RTO)",
}


@dataclass(frozen=True)
class PhaseBudgets:
    """How long detection and mitigation may take (`[phases]` in a profile), in seconds.

    Defaults come from the runbook template of 001_dba783835563cb30.txt (immediate actions
    under 5 min, investigation within 5-15 min), which the acknowledgement deadline of
    003/004 (5 min) and the Level 2 escalation of 000 (after 15 min) agree with.
    """

    detect_s: float = 300.0
    mitigate_s: float = 900.0
    resolve_s: float = 3600.0  # the template's resolution phase ends at 60 min


@dataclass(frozen=True)
class MilestoneValue:
    """A measured milestone in seconds since injection, or None with the reason."""

    value_s: float | None
    detail: str


def time_to_mitigate(
    fault_at_s: float, requests: Sequence[tuple[float, bool]], end_s: float
) -> MilestoneValue:
    """TTM from the user-side stream: `(completed_at_s, ok)` per request, in time order.

    Only requests completed in [fault_at_s, end_s] count (`end_s`: when recovery was confirmed,
    else when the drill stopped looking). No failure there gives 0 s: users never saw the
    fault. Failures followed by a served request end at the last failure. Failures with no
    served request after them mean users were still failing: not mitigated, no value.
    """
    seen = [(at, ok) for at, ok in requests if fault_at_s <= at <= end_s]
    if not seen:
        return MilestoneValue(None, "no user request completed after the fault")
    failed = [at for at, ok in seen if not ok]
    if not failed:
        return MilestoneValue(0.0, f"no user request failed after the fault ({len(seen)} served)")
    last = failed[-1]
    if not any(ok and at > last for at, ok in seen):
        return MilestoneValue(
            None,
            f"users were still failing when the drill stopped looking ({len(failed)} of "
            f"{len(seen)} requests failed, none served after the last failure)",
        )
    return MilestoneValue(
        last - fault_at_s,
        f"last failed user request; {len(failed)} of {len(seen)} requests failed after the fault",
    )
