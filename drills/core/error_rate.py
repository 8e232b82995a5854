"""The `HighErrorRate` alert of RUNBOOKS.md §3.11, judged on what users saw.

The seeds give three lines over one kind of window: an error ratio above 5% for 5 min is P1
(`HighErrorRate` [002]) and critical [003], above 1% is a warning [003], above 0.1% of 5xx is P2
[004]; the ratios are Prometheus rates over `[5m]` ([002], [004]). A drill has no Prometheus, but
it has every request users made (the load generator's stream), which is what those rates
approximate. So the rule here is Prometheus' own, evaluated on that stream: every `step_s` the
ratio of failed requests among those completed in the trailing window; the alert is pending from
the first evaluation over the line and fires once it has stayed over for `for_s`.

A window with no completed request is no evidence either way: it breaks a pending run, as a
Prometheus rate with no samples yields no value. The sandbox runs the 5 min window scaled down
(`ErrorRateSettings.window_scale`, printed in the report), as RUNBOOKS.md §5.1 asks.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "AlertLine",
    "EndpointErrors",
    "ErrorRateSettings",
    "errors_by_endpoint",
    "first_firing",
    "ratio_in_window",
]


@dataclass(frozen=True)
class AlertLine:
    """One threshold of the rule: fires when the error ratio is above `ratio`."""

    name: str
    ratio: float
    source: str


@dataclass(frozen=True)
class ErrorRateSettings:
    """The `[error_rate]` profile section: the alert lines, the window, the fault's share.

    `window_s` is the seeds' rate window and `for` duration (5 min [002]); `window_scale`
    shrinks both for a sandbox, where a drill must take seconds. `fail_share` is the share of
    order requests the `bad-release` variant's release fails (RUNBOOKS.md §3.11: e.g. 10%).
    """

    window_s: float = 300.0
    window_scale: float = 1.0
    critical: float = 0.05
    warning: float = 0.01
    p2: float = 0.001
    fail_share: float = 0.1

    @property
    def effective_window_s(self) -> float:
        """The window (and `for`) the drill applies: the seeds' times the scale."""
        return self.window_s * self.window_scale

    def lines(self) -> tuple[AlertLine, ...]:
        """The lines, the one the drill detects on (critical) first."""
        return (
            AlertLine("HighErrorRate critical", self.critical, "> 5% for 5 min P1 [002], [003]"),
            AlertLine("HighErrorRate warning", self.warning, "> 1% warning [003]"),
            AlertLine("HighErrorRate P2", self.p2, "> 0.1% 5xx is P2 [004]"),
        )


def ratio_in_window(
    times_s: Sequence[float], failed: Sequence[bool], at_s: float, window_s: float
) -> tuple[int, int]:
    """(failed, completed) among requests completed in (at_s - window_s, at_s].

    `times_s` must be sorted; `failed[i]` belongs to `times_s[i]`.
    """
    lo = bisect_right(times_s, at_s - window_s)
    hi = bisect_right(times_s, at_s)
    return sum(failed[lo:hi]), hi - lo


def first_firing(  # noqa: PLR0913 - keyword-only figures of one rule
    requests: Iterable[tuple[float, bool]],
    *,
    threshold: float,
    window_s: float,
    for_s: float,
    since_s: float,
    until_s: float,
    step_s: float = 0.5,
) -> float | None:
    """When the rule would first fire between `since_s` and `until_s` (None: it did not).

    `requests` are `(completed_at_s, ok)`. Evaluated every `step_s` from `since_s`: pending
    from the first evaluation whose trailing-window ratio is above `threshold`, firing at the
    first evaluation at least `for_s` later with every evaluation in between above too.
    """
    if step_s <= 0 or window_s <= 0:
        raise ValueError("step_s and window_s must be above zero")
    ordered = sorted(requests)
    times = [t for t, _ in ordered]
    failed = [not ok for _, ok in ordered]
    pending_s: float | None = None
    ticks = int((until_s - since_s) / step_s + 1e-9)
    for tick in range(ticks + 1):
        at_s = since_s + tick * step_s
        bad, count = ratio_in_window(times, failed, at_s, window_s)
        if not count or bad / count <= threshold:
            pending_s = None
            continue
        pending_s = at_s if pending_s is None else pending_s
        if at_s - pending_s >= for_s - 1e-9:
            return at_s
    return None


@dataclass(frozen=True)
class EndpointErrors:
    """Failed requests of one endpoint, by status (0: no response: refused or timed out)."""

    endpoint: str
    requests: int
    failures: int
    statuses: tuple[tuple[int, int], ...]  # (status, failed requests with it), most first

    @property
    def ratio(self) -> float:
        """Failed share of this endpoint's requests."""
        return self.failures / self.requests if self.requests else 0.0

    def describe(self) -> str:
        """`POST /orders: 12 of 120 failed (10.0%; 500 x12)`."""
        codes = ", ".join(f"{status} x{n}" for status, n in self.statuses)
        text = f"{self.endpoint}: {self.failures} of {self.requests} failed ({self.ratio:.1%}"
        return text + (f"; {codes})" if codes else ")")


def errors_by_endpoint(
    requests: Iterable[tuple[float, str, int, bool]], since_s: float
) -> list[EndpointErrors]:
    """Runbook step 1, `topk(rate(5xx)) by (endpoint)` and by status: the worst first.

    `requests` are `(completed_at_s, endpoint, status, ok)`; those completed before `since_s`
    do not count.
    """
    totals: dict[str, int] = {}
    codes: dict[str, dict[int, int]] = {}
    for at_s, endpoint, status, ok in requests:
        if at_s < since_s:
            continue
        totals[endpoint] = totals.get(endpoint, 0) + 1
        if not ok:
            by_status = codes.setdefault(endpoint, {})
            by_status[status] = by_status.get(status, 0) + 1
    found = [_endpoint(name, total, codes.get(name, {})) for name, total in totals.items()]
    return sorted(found, key=lambda e: (-e.failures, -e.ratio, e.endpoint))


def _endpoint(name: str, total: int, codes: dict[int, int]) -> EndpointErrors:
    statuses = tuple(sorted(codes.items(), key=lambda item: (-item[1], item[0])))
    return EndpointErrors(name, total, sum(codes.values()), statuses)
