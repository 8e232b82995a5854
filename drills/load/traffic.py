"""What users saw: every request the load generator made, and the figures a drill needs from them.

The load generator streams one `RequestRecord` per request (timestamps on CLOCK_MONOTONIC, the
drill clock's axis). `TrafficRecorder` keeps them all (thread-safe) and answers: the user-side
outage (first to last failed request), error ratio and latency percentiles over a window, and
per-second series for the report timeline. The conditions at the bottom turn those answers into
steady-state probes: "error ratio under X and p95 under Y over the last N seconds".

Given the load generator, each condition first asks it whether it still runs (LoadGeneratorDied
ends the drill ERROR) and never reads a window with users running but no completed request as
anything but failing: with per-request timeouts a stuck user fails soon, but until then its
silence is no evidence of health. A read that found one of the user's acknowledged orders gone
(`RequestRecord.missing_key`) is a failed request and a lost-write signal (`missing_reads`).
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from drills.core.clock import DrillClock
from drills.core.conditions import Condition, Observation
from drills.targets.ports.load import LoadGenerator, RequestRecord

__all__ = [
    "RequestRecord",
    "TrafficRecorder",
    "WindowStats",
    "error_ratio_below",
    "p95_below",
    "percentile",
    "silent_users",
    "traffic_healthy",
]

SERIES_OK = "requests ok/s"
SERIES_FAILED = "requests failed/s"
SERIES_P50 = "p50 latency ms"
SERIES_P95 = "p95 latency ms"


@dataclass(frozen=True)
class WindowStats:
    """Requests completed in a window; percentiles are None when the window is empty."""

    count: int
    failures: int
    error_ratio: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None for no values)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _stats(records: list[RequestRecord]) -> WindowStats:
    failures = sum(1 for r in records if not r.ok)
    latencies = sorted(r.latency_ms for r in records)
    return WindowStats(
        count=len(records),
        failures=failures,
        error_ratio=failures / len(records) if records else None,
        p50_ms=percentile(latencies, 0.50),
        p95_ms=percentile(latencies, 0.95),
        p99_ms=percentile(latencies, 0.99),
    )


class TrafficRecorder:
    """Keeps every request record, sorted by time, and computes user-side figures (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._times: list[float] = []

    def add(self, record: RequestRecord) -> None:
        """Store one record; out-of-order arrivals (several workers) are placed by time."""
        with self._lock:
            index = bisect_right(self._times, record.at_s)
            self._times.insert(index, record.at_s)
            self._records.insert(index, record)

    def records(self) -> list[RequestRecord]:
        """A copy of every record, oldest first."""
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def _between(self, start_s: float, end_s: float) -> list[RequestRecord]:
        with self._lock:
            low = bisect_left(self._times, start_s)
            high = bisect_right(self._times, end_s)
            return self._records[low:high]

    def missing_reads(self, since_s: float | None = None) -> list[RequestRecord]:
        """Reads (at or after `since_s`) that found an acknowledged order gone: lost writes."""
        start = -math.inf if since_s is None else since_s
        return [r for r in self._between(start, math.inf) if r.missing_key]

    def outage(self, since_s: float | None = None) -> tuple[float, float] | None:
        """(first failed, last failed) request times at or after `since_s`; None if none failed."""
        start = -math.inf if since_s is None else since_s
        failed = [r.at_s for r in self._between(start, math.inf) if not r.ok]
        if not failed:
            return None
        return failed[0], failed[-1]

    def window(self, start_s: float, end_s: float) -> WindowStats:
        """Counts, error ratio and p50/p95/p99 latency of requests completed in [start, end]."""
        return _stats(self._between(start_s, end_s))

    def series(self, bucket_s: float = 1.0) -> dict[str, list[tuple[float, float]]]:
        """Per-bucket timeline points `(bucket start monotonic_s, value)` for each series.

        The newest bucket is left out: it ends after the last request seen, so its rate would
        be counted over part of a bucket and plot as a drop in traffic that never happened.
        """
        if bucket_s <= 0:
            raise ValueError("bucket_s must be > 0")
        buckets: dict[int, list[RequestRecord]] = {}
        for record in self.records():
            buckets.setdefault(math.floor(record.at_s / bucket_s), []).append(record)
        if buckets:
            del buckets[max(buckets)]
        points: dict[str, list[tuple[float, float]]] = {
            SERIES_OK: [],
            SERIES_FAILED: [],
            SERIES_P50: [],
            SERIES_P95: [],
        }
        for index in sorted(buckets):
            at = index * bucket_s
            stats = _stats(buckets[index])
            points[SERIES_OK].append((at, (stats.count - stats.failures) / bucket_s))
            points[SERIES_FAILED].append((at, stats.failures / bucket_s))
            points[SERIES_P50].append((at, stats.p50_ms or 0.0))
            points[SERIES_P95].append((at, stats.p95_ms or 0.0))
        return points


def _recent(
    recorder: TrafficRecorder,
    window_s: float,
    clock: DrillClock,
    generator: LoadGenerator | None = None,
) -> WindowStats:
    if generator is not None:
        generator.check_running()  # raises LoadGeneratorDied: no users, no evidence
    now = clock.now()
    return recorder.window(now - window_s, now)


def silent_users(window_s: float, generator: LoadGenerator | None) -> str:
    """What an empty window means: stuck users when the generator runs any, else no traffic."""
    users = generator.users() if generator is not None else 0
    if users > 0:
        return f"{users} users running, none completed a request over last {window_s:.1f} s"
    return f"no requests over last {window_s:.1f} s"


def error_ratio_below(
    recorder: TrafficRecorder,
    ratio: float,
    *,
    window_s: float,
    clock: DrillClock,
    generator: LoadGenerator | None = None,
) -> Condition:
    """Holds when requests completed in the last `window_s` failed less than `ratio`.

    No request in the window is not healthy: there is no evidence users are served (with
    users running, they are stuck). With `generator`, a dead generator raises LoadGeneratorDied.
    """

    def check() -> Observation:
        stats = _recent(recorder, window_s, clock, generator)
        if stats.error_ratio is None:
            return Observation(ok=False, detail=silent_users(window_s, generator))
        detail = (
            f"error ratio {stats.error_ratio:.3f} over last {window_s:.1f} s "
            f"({stats.count} requests)"
        )
        return Observation(ok=stats.error_ratio < ratio, detail=detail)

    return Condition(f"error ratio < {ratio}", check)


def p95_below(
    recorder: TrafficRecorder,
    ms: float,
    *,
    window_s: float,
    clock: DrillClock,
    generator: LoadGenerator | None = None,
) -> Condition:
    """Holds when the p95 latency of requests in the last `window_s` is under `ms`."""

    def check() -> Observation:
        stats = _recent(recorder, window_s, clock, generator)
        if stats.p95_ms is None:
            return Observation(ok=False, detail=silent_users(window_s, generator))
        detail = f"p95 {stats.p95_ms:.1f} ms over last {window_s:.1f} s ({stats.count} requests)"
        return Observation(ok=stats.p95_ms < ms, detail=detail)

    return Condition(f"p95 < {ms} ms", check)


def traffic_healthy(  # noqa: PLR0913 - keyword-only figures of one condition
    recorder: TrafficRecorder,
    *,
    max_error_ratio: float,
    max_p95_ms: float,
    window_s: float,
    clock: DrillClock,
    generator: LoadGenerator | None = None,
) -> Condition:
    """Both `error_ratio_below` and `p95_below` over the same window (see them for `generator`)."""
    errors = error_ratio_below(
        recorder, max_error_ratio, window_s=window_s, clock=clock, generator=generator
    )
    return errors & p95_below(recorder, max_p95_ms, window_s=window_s, clock=clock)
