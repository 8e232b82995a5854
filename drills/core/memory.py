"""Memory evidence of the `oom-memory-leak` drill (RUNBOOKS.md §3.3), read from API documents.

What `kubectl describe pod` shows an on-call engineer (Limits: memory; Last State: Terminated,
Reason OOMKilled, Exit Code 137; Restart Count) and what `kubectl top pods` shows (memory in
use) come from the pod's JSON and the metrics API's PodMetrics JSON. Reading them here, with
the standard library only, lets one reading serve the sandbox's node agent and a real kubelet
alike, and lets unit tests feed it recorded documents.

An OOM kill is one terminated block with reason `OOMKilled` and exit code 137 (128 + SIGKILL).
A container shows its newest kill either as its current state (just killed, before the restart)
or as its last state (restarted since); the block's `finishedAt` tells kills apart, so a kill
seen in both places counts once.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "OOM_EXIT_CODE",
    "OOM_REASON",
    "ContainerMemory",
    "MemoryReading",
    "OomKill",
    "OomSettings",
    "Termination",
    "containers_of",
    "format_bytes",
    "growth_per_s",
    "memory_bytes",
    "oom_kills",
    "readings_of",
    "rss_at_kill",
    "seconds_after",
]

OOM_REASON = "OOMKilled"
OOM_EXIT_CODE = 137  # 128 + SIGKILL: how a kubelet reports a container the OOM killer ended

_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P|m)?$")
_FACTORS = {
    None: 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
}


def memory_bytes(quantity: str) -> int:
    """Bytes of a Kubernetes quantity such as `512Mi`, `1Gi`, `53212Ki` or `128M`.

    Raises ValueError naming the quantity when it is not one of those forms.
    """
    match = _QUANTITY.match(quantity.strip())
    if match is None:
        raise ValueError(f"memory quantity {quantity!r} is not understood; write e.g. 512Mi, 1Gi")
    return round(float(match[1]) * _FACTORS[match[2]])


def format_bytes(value: int | None) -> str:
    """`96Mi`, `1Gi`, or `81.4Mi` when the bytes are not a whole number of MiB; `none` for None."""
    if value is None:
        return "none"
    if value and value % 2**30 == 0:
        return f"{value // 2**30}Gi"
    if value % 2**20 == 0:
        return f"{value // 2**20}Mi"
    return f"{value / 2**20:.1f}Mi"


@dataclass(frozen=True)
class Termination:
    """One terminated block of a container status (its current or its last state)."""

    reason: str
    exit_code: int | None
    finished_at: str = ""

    @property
    def oom_killed(self) -> bool:
        """True for the OOM killer's work: reason OOMKilled and exit code 137."""
        return self.reason == OOM_REASON and self.exit_code == OOM_EXIT_CODE


@dataclass(frozen=True)
class ContainerMemory:
    """One container of one pod: its memory limit, restarts and how its runs ended."""

    pod: str
    container: str
    limit_bytes: int | None
    restarts: int = 0
    state: Termination | None = None  # set while the container is terminated right now
    last_state: Termination | None = None  # the previous run, once it restarted
    deleting: bool = False

    @property
    def last_reason(self) -> str:
        """The newest termination's reason (`kubectl describe pod`'s Last State), or ''."""
        newest = self.state or self.last_state
        return newest.reason if newest else ""

    def describe(self) -> str:
        """`shop-1/shop: limit 96Mi, 2 restarts, last OOMKilled (exit 137)` style."""
        newest = self.state or self.last_state
        ended = f", last {newest.reason} (exit {newest.exit_code})" if newest else ""
        return (
            f"{self.pod}/{self.container}: limit {format_bytes(self.limit_bytes)}, "
            f"{self.restarts} restarts{ended}"
        )


@dataclass(frozen=True)
class OomKill:
    """One OOM kill: which container, when its run finished, and the limit it ran under."""

    pod: str
    container: str
    finished_at: str
    limit_bytes: int | None


@dataclass(frozen=True)
class MemoryReading:
    """One `kubectl top pods` figure: a container's memory at the metrics API's timestamp."""

    pod: str
    container: str
    memory_bytes: int
    timestamp: str


def _table(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _rows(value: object) -> list[Mapping[str, object]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _termination(state: object) -> Termination | None:
    block = _table(_table(state).get("terminated"))
    if not block:
        return None
    code = block.get("exitCode")
    return Termination(
        reason=str(block.get("reason") or ""),
        exit_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        finished_at=str(block.get("finishedAt") or ""),
    )


def _limit(container: Mapping[str, object]) -> int | None:
    limit = _table(_table(container.get("resources")).get("limits")).get("memory")
    return None if limit is None else memory_bytes(str(limit))


def containers_of(pod: Mapping[str, object]) -> tuple[ContainerMemory, ...]:
    """Every container of a pod document (the API's JSON, camelCase keys), spec joined to status.

    The limit comes from the pod's own spec: the one its kubelet enforces, whatever the
    Deployment's template says now.
    """
    meta, spec, status = (_table(pod.get(key)) for key in ("metadata", "spec", "status"))
    statuses = {str(s.get("name")): s for s in _rows(status.get("containerStatuses"))}
    found = []
    for container in _rows(spec.get("containers")):
        name = str(container.get("name") or "")
        seen = statuses.get(name, {})
        restarts = seen.get("restartCount")
        found.append(
            ContainerMemory(
                pod=str(meta.get("name") or ""),
                container=name,
                limit_bytes=_limit(container),
                restarts=restarts if isinstance(restarts, int) else 0,
                state=_termination(seen.get("state")),
                last_state=_termination(seen.get("lastState")),
                deleting=meta.get("deletionTimestamp") is not None,
            )
        )
    return tuple(found)


def oom_kills(containers: Iterable[ContainerMemory]) -> set[OomKill]:
    """The OOM kills these statuses show (current and last state; one per finishedAt)."""
    return {
        OomKill(c.pod, c.container, ended.finished_at, c.limit_bytes)
        for c in containers
        for ended in (c.state, c.last_state)
        if ended is not None and ended.oom_killed
    }


def readings_of(pod_metrics: Mapping[str, object]) -> tuple[MemoryReading, ...]:
    """The memory of each container in one PodMetrics document (metrics.k8s.io/v1beta1)."""
    name = str(_table(pod_metrics.get("metadata")).get("name") or "")
    stamp = str(pod_metrics.get("timestamp") or "")
    return tuple(
        MemoryReading(name, str(c.get("name") or ""), memory_bytes(str(usage["memory"])), stamp)
        for c in _rows(pod_metrics.get("containers"))
        if "memory" in (usage := _table(c.get("usage")))
    )


def _seconds(stamp: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


_KILLED_RSS = re.compile(r"\brss (\d+) kB\b")


def rss_at_kill(message: str) -> int | None:
    """Bytes of RSS an OOMKilling event says the node measured (`... (rss 99012 kB > ...)`).

    The sandbox's node agent writes the figure it compared with the limit; a real kubelet's
    OOM event names the victim process only, so there the answer is None.
    """
    found = _KILLED_RSS.search(message)
    return None if found is None else int(found[1]) * 1024


def seconds_after(stamp: str, moment: datetime) -> float | None:
    """Seconds from `moment` (timezone-aware) to the RFC 3339 `stamp`; None if not a stamp."""
    at = _seconds(stamp)
    return None if at is None else at - moment.timestamp()


def growth_per_s(readings: Sequence[MemoryReading]) -> dict[str, float]:
    """Bytes per second each container grew between its first and last distinct reading.

    Keyed `pod/container`; a container read at one timestamp only (metrics-server had not
    scraped it again) has no growth and is left out, as is one whose memory fell in between
    (it was restarted: the readings belong to different runs).
    """
    by_container: dict[str, dict[float, int]] = {}
    for reading in readings:
        at = _seconds(reading.timestamp)
        if at is not None:
            key = f"{reading.pod}/{reading.container}"
            by_container.setdefault(key, {})[at] = reading.memory_bytes
    growth = {}
    for key, points in by_container.items():
        ordered = [points[at] for at in sorted(points)]
        span_s = max(points) - min(points)
        if span_s > 0 and all(b >= a for a, b in itertools.pairwise(ordered)):
            growth[key] = (ordered[-1] - ordered[0]) / span_s
    return growth


@dataclass(frozen=True)
class OomSettings:
    """A profile's `[oom]` table: the `oom-memory-leak` drill's leak, limits and thresholds.

    `limit` is the limit the leaking release runs under (512Mi, the [000] starting value; an
    environment may set a smaller one so the leak crosses it within seconds), `raised_limit` the
    runbook's fix (1Gi [000]), `memory_warning` the share of the limit memory must stay under
    after the fix (80% [003]), `leak_kb` what the shop keeps per request, and `top_for` how
    long the drill watches `kubectl top pods` for the trend (long enough for metrics-server to
    scrape twice: its resolution is 60 s upstream).
    """

    leak_kb: int = 256
    limit: str = "512Mi"
    raised_limit: str = "1Gi"
    memory_warning: float = 0.8
    top_for_s: float = 130.0

    @property
    def limit_bytes(self) -> int:
        """`limit` in bytes."""
        return memory_bytes(self.limit)

    @property
    def raised_limit_bytes(self) -> int:
        """`raised_limit` in bytes."""
        return memory_bytes(self.raised_limit)
