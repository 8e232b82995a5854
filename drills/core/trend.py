"""The regression gate of `drills history`: the latest run against the median of the ones before.

Pure logic (stdlib only). A drill's runs are compared only with runs of the same environment:
`judge_all` groups by (environment, drill) before anything is compared. For each group the
latest run's RTO and RPO are compared with the median of the same figure over the previous
`window` runs (fewer when fewer exist); a figure regressed when it exceeds that median by more
than its growth threshold (`rto_growth = 0.5` is +50%). A figure the latest run did not measure
(COULD_NOT_VERIFY, an unmeasured objective) is never turned into a regression: it is reported
as "not measured". A drill that passed in its previous run and does not pass now regressed too.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby

from drills.core.durations import format_duration
from drills.core.objectives import ObjectiveKind, Verdict

__all__ = ["DEFAULT_HISTORY", "HistorySettings", "RunFigures", "Trend", "judge", "judge_all"]


@dataclass(frozen=True)
class HistorySettings:
    """A profile's `[history]` table: how many previous runs the median spans, allowed growth.

    `rto_growth`/`rpo_growth` are fractions (0.5 = the latest may be up to 50% above the median);
    the harness's own defaults: 5 runs (a bit more than a year of quarterly drills) and +50% (the
    rule `drills history` used before it kept a median).
    """

    window: int = 5
    rto_growth: float = 0.5
    rpo_growth: float = 0.5

    def growth(self, kind: ObjectiveKind) -> float:
        """The allowed growth of figure `kind`, as a fraction."""
        return self.rto_growth if kind is ObjectiveKind.RTO else self.rpo_growth


DEFAULT_HISTORY = HistorySettings()


@dataclass(frozen=True)
class RunFigures:
    """One drill in one run: where, when, who, its verdict and RTO/RPO beside their targets.

    Seconds throughout; None is a figure (or target) that was not measured (or not set).
    """

    environment: str
    drill: str
    run_id: str
    started_at: str
    verdict: Verdict
    operator: str = ""
    ticket: str = ""
    rto_s: float | None = None
    rto_target_s: float | None = None
    rpo_s: float | None = None
    rpo_target_s: float | None = None

    def measured(self, kind: ObjectiveKind) -> float | None:
        """The measured RTO or RPO of this run."""
        return self.rto_s if kind is ObjectiveKind.RTO else self.rpo_s

    def target(self, kind: ObjectiveKind) -> float | None:
        """The RTO or RPO target this run was judged against."""
        return self.rto_target_s if kind is ObjectiveKind.RTO else self.rpo_target_s


@dataclass(frozen=True)
class Trend:
    """The gate's finding for one environment and drill.

    `regressions` name drill, figure, latest vs median and threshold (empty: no regression);
    `notes` say what could not be compared and why (not measured, no earlier run).
    """

    environment: str
    drill: str
    latest: RunFigures
    compared: int
    regressions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def _order(run: RunFigures) -> tuple[str, str]:
    return (run.started_at, run.run_id)


def judge_all(
    runs: Sequence[RunFigures], settings_of: Callable[[str], HistorySettings]
) -> list[Trend]:
    """One Trend per (environment, drill), each judged with its environment's settings."""

    def key(run: RunFigures) -> tuple[str, str]:
        return (run.environment, run.drill)

    trends = []
    for (environment, _), group in groupby(sorted(runs, key=key), key=key):
        trends.append(judge(list(group), settings_of(environment)))
    return trends


def judge(runs: Sequence[RunFigures], settings: HistorySettings) -> Trend:
    """Judge the latest of `runs` (one environment, one drill) against the runs before it.

    Raises ValueError when `runs` is empty or mixes environments or drills.
    """
    if not runs:
        raise ValueError("judge() needs at least one run")
    if len({(r.environment, r.drill) for r in runs}) != 1:
        raise ValueError("judge() compares runs of one environment and one drill only")
    ordered = sorted(runs, key=_order)
    latest, before = ordered[-1], ordered[:-1][-settings.window :]
    where = f"{latest.environment} · {latest.drill}"
    if not before:
        first = f"{where}: first run ({latest.run_id}), nothing to compare with yet"
        return Trend(latest.environment, latest.drill, latest, 0, notes=(first,))
    found: list[str] = []
    notes: list[str] = []
    previous = before[-1]
    if previous.verdict is Verdict.PASS and latest.verdict is not Verdict.PASS:
        found.append(
            f"{where}: {previous.verdict} in {previous.run_id} -> {latest.verdict} in "
            f"{latest.run_id}"
        )
    for kind in ObjectiveKind:
        regression, note = _figure(where, kind, latest, before, settings.growth(kind))
        found.extend(r for r in (regression,) if r)
        notes.extend(n for n in (note,) if n)
    return Trend(latest.environment, latest.drill, latest, len(before), tuple(found), tuple(notes))


def _figure(
    where: str,
    kind: ObjectiveKind,
    latest: RunFigures,
    before: Sequence[RunFigures],
    growth: float,
) -> tuple[str | None, str | None]:
    """(regression, note) for one figure; at most one of them is set."""
    now = latest.measured(kind)
    baseline = [v for v in (r.measured(kind) for r in before) if v is not None]
    if now is None:
        if not baseline:
            return None, None  # never measured for this drill: nothing to say
        return None, f"{where}: {kind} not measured in {latest.run_id}, so not compared"
    if not baseline:
        return None, f"{where}: {kind} not measured in the previous {len(before)} run(s)"
    median = statistics.median(baseline)
    if now <= median * (1 + growth):
        return None, None
    over = f"+{(now / median - 1):.0%} over" if median > 0 else "above"
    return (
        f"{where}: {kind} {format_duration(now)} in {latest.run_id} is {over} the median "
        f"{format_duration(median)} of the previous {len(baseline)} measured run(s) "
        f"(threshold +{growth:.0%})",
        None,
    )
