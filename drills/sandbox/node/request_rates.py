"""Requests per second per pod over a sliding window, as the HPA's Pods metric reads them.

The proxy records the moment of every request it routes to a pod and tells this object which
pods it may currently route to. A pod's rate is the number of its requests in the last
`window_s` seconds divided by the time it has been observable within that window: a pod that
joined two seconds ago and took 140 requests runs at 70 per second, not 28. (Prometheus'
``rate()`` extrapolates a young series the same way.) The divisor is never below `min_span_s`,
so a pod's very first requests cannot read as a burst.

A pod is reported while the proxy may route to it (at 0 when it had no request) or while any
of its requests is inside the window; after that it is forgotten, like a Prometheus series
that went stale.

prometheus-adapter usually computes ``rate(http_requests_total[2m])`` or ``[5m]`` on a 30-60 s
scrape; the sandbox default of 5 s makes the HPA react within one sync period instead of
minutes, at the price of a noisier signal.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from drills.core.clock import DrillClock, SystemClock

__all__ = ["PodKey", "RequestRates"]

PodKey = tuple[str, str]


class RequestRates:
    """Per-pod request timestamps, kept for one window; safe to share between threads."""

    def __init__(
        self, *, window_s: float = 5.0, min_span_s: float = 1.0, clock: DrillClock | None = None
    ) -> None:
        """Keep `window_s` seconds of requests; rates divide by at least `min_span_s`."""
        if window_s <= 0 or not 0 < min_span_s <= window_s:
            raise ValueError("need window_s > 0 and 0 < min_span_s <= window_s")
        self.window_s = window_s
        self.min_span_s = min_span_s
        self.clock = clock or SystemClock()
        self._hits: dict[PodKey, deque[float]] = {}
        self._since: dict[PodKey, float] = {}
        self._lock = threading.Lock()
        self._expired_at = self.clock.now()

    def record(self, pod: PodKey) -> None:
        """Count one request routed to `pod` now."""
        now = self.clock.now()
        with self._lock:
            self._since.setdefault(pod, now)
            hits = self._hits.setdefault(pod, deque())
            hits.append(now)
            while hits[0] <= now - self.window_s:
                hits.popleft()

    def serving(self, pods: Iterable[PodKey]) -> None:
        """Note the pods the proxy may route to now (a new one starts its observed span).

        Once per window, pods neither listed here nor requested within the window are
        forgotten, so memory stays bounded even when nobody reads the rates.
        """
        now = self.clock.now()
        current = set(pods)
        with self._lock:
            for pod in current:
                self._since.setdefault(pod, now)
            if now - self._expired_at >= self.window_s:
                self._expire(now, current)

    def rates(self, serving: Iterable[PodKey] = ()) -> dict[PodKey, float]:
        """Requests per second of every pod that is `serving` or had requests in the window."""
        now = self.clock.now()
        current = set(serving)
        with self._lock:
            for pod in current:
                self._since.setdefault(pod, now)
            self._expire(now, current)
            return {pod: self._rate(pod, now) for pod in self._since}

    def _expire(self, now: float, current: set[PodKey]) -> None:
        self._expired_at = now
        cutoff = now - self.window_s
        for pod, hits in list(self._hits.items()):
            while hits and hits[0] <= cutoff:
                hits.popleft()
            if not hits:
                del self._hits[pod]
        for pod in list(self._since):
            if pod not in current and pod not in self._hits:
                del self._since[pod]

    def _rate(self, pod: PodKey, now: float) -> float:
        observed_s = min(self.window_s, now - self._since[pod])
        return len(self._hits.get(pod, ())) / max(self.min_span_s, observed_s)
