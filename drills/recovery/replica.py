"""How far behind the promoted replica was (RUNBOOKS.md §3.7 `replica-promote`, step 4).

The runbook reads the lag on the replica as `now() - pg_last_xact_replay_timestamp()`. While
the primary writes, that is the lag. Once the primary is gone it is not: nothing new arrives,
so the value grows with every second since the crash, even on a replica that replayed every
commit. The drill therefore judges the replica's last replayed commit against the newest
write the primary acknowledged before it died (the write ledger's), which is the window of
data the promotion leaves behind, and shows the runbook's reading beside it.

A replica that has replayed no transaction since it started answers NULL: its data is then
as of its base backup, and the lag is counted from there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from drills.core.dataloss import AcknowledgedWrite
from drills.core.objectives import Objective

__all__ = ["LagAtPromotion", "lag_at_promotion", "lag_breach", "newest_before"]


@dataclass(frozen=True)
class LagAtPromotion:
    """The judged lag, the runbook's own reading, and how the judged one was found."""

    lag_s: float
    runbook_lag_s: float | None
    detail: str


def newest_before(writes: Iterable[AcknowledgedWrite], at_s: float) -> float | None:
    """Drill time of the newest write acknowledged before `at_s` (None: there was none)."""
    times = [w.at_s for w in writes if w.at_s < at_s]
    return max(times) if times else None


def _utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def lag_at_promotion(
    *,
    newest_ack: datetime,
    last_replay_iso: str | None,
    replica_since: datetime,
    runbook_lag_s: float | None,
) -> LagAtPromotion:
    """Newest acknowledged write on the primary minus the replica's last replayed commit.

    `replica_since` is when the replica's base backup ended (its data point when it has
    replayed nothing); never negative (a write acknowledged a moment after its commit).
    """
    if last_replay_iso is None:
        point = replica_since
        how = (
            "the replica has no transaction replayed since it started: its data is as of "
            f"{point.isoformat()}"
        )
    else:
        point = _utc(last_replay_iso)
        how = f"the replica's last replayed commit at {last_replay_iso}"
    lag = max(0.0, (newest_ack - point).total_seconds())
    reading = (
        "NULL"
        if runbook_lag_s is None
        else f"{runbook_lag_s:.1f} s (grows with the time since the primary died)"
    )
    detail = (
        f"newest write the primary acknowledged at {newest_ack.isoformat()}; {how}; "
        f"the runbook's now() - pg_last_xact_replay_timestamp() read {reading}"
    )
    return LagAtPromotion(lag, runbook_lag_s, detail)


def lag_breach(lag: LagAtPromotion, rpo: Objective) -> str:
    """The FAIL reason when the lag at promotion exceeds the database RPO, else ""."""
    if lag.lag_s <= rpo.target_s:
        return ""
    return (
        f"replication lag at promotion {lag.lag_s:.1f} s exceeds the database RPO "
        f"{rpo.target_s:g} s: the replica promoted was that far behind the primary's newest "
        f"acknowledged write ({lag.detail})"
    )
