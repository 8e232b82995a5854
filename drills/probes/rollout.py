"""Probes for a release going wrong and being rolled back (RUNBOOKS.md §3.1).

- `rollout_complete`: what `kubectl rollout status` waits for, optionally on a given image.
- `crash_looping`: some pod of the workload waits in `CrashLoopBackOff` (the detection signal).
- `RestartWatch`: samples restart counts over time; answers the `PodCrashLooping` alert rule
  (more than 5 restarts of one pod within 10 min [002]) and whether restarts stayed flat.
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.core.clock import DrillClock
from drills.core.conditions import Condition, Observation
from drills.targets.ports.rollout import Rollout
from drills.targets.ports.workload import PodState, Workload

__all__ = [
    "CRASH_LOOP",
    "POD_CRASH_LOOPING_RESTARTS",
    "POD_CRASH_LOOPING_WINDOW_S",
    "AlertReading",
    "RestartWatch",
    "crash_looping",
    "rollout_complete",
]

CRASH_LOOP = "CrashLoopBackOff"
POD_CRASH_LOOPING_RESTARTS = 5  # the rule fires above this many restarts [002]
POD_CRASH_LOOPING_WINDOW_S = 600.0  # ... within 10 min [002]


def rollout_complete(rollout: Rollout, image: str | None = None) -> Condition:
    """The rollout is done (see `RolloutStatus.complete`) and, if given, on template `image`."""

    def check() -> Observation:
        status = rollout.rollout_status()
        on_image = image is None or status.image == image
        detail = status.describe()
        if not on_image:
            detail += f"; the template runs {status.image}, not {image}"
        return Observation(ok=status.complete and on_image, detail=detail)

    name = f"rollout_complete({rollout.name}{'' if image is None else ', ' + image})"
    return Condition(name, check)


def crash_looping(workload: Workload, reason: str = CRASH_LOOP) -> Condition:
    """At least one live pod of the workload waits with `reason` (default CrashLoopBackOff)."""

    def check() -> Observation:
        stuck = [p for p in workload.pods() if p.waiting_reason == reason and not p.deleting]
        seen = ", ".join(f"{p.name} ({p.restarts} restarts)" for p in stuck)
        return Observation(ok=bool(stuck), detail=f"{reason}: {seen or 'none'}")

    return Condition(f"crash_looping({workload.name}, {reason})", check)


@dataclass(frozen=True)
class AlertReading:
    """Whether a restart-count rule holds now, and the pod closest to firing it."""

    firing: bool
    pod: str
    restarts_in_window: int
    detail: str


class RestartWatch:
    """Restart counts of a workload's pods over time, sampled on the drill clock.

    A pod missing from the first sample started after the watch began, so its restarts count
    from 0; for older pods the earliest sample inside the window is the baseline (like Prometheus'
    `increase(...[10m])` over `kube_pod_container_status_restarts_total`).
    """

    def __init__(self, workload: Workload, *, clock: DrillClock) -> None:
        self.workload, self.clock = workload, clock
        self.started_s = clock.now()
        self._first_seen: dict[str, float] = {}
        self._preexisting: set[str] | None = None
        self._samples: list[tuple[float, dict[str, int]]] = []
        self.first_fired_s: float | None = None  # drill-clock time the alert rule first held

    def sample(self) -> dict[str, int]:
        """Read the pods' restart counts now and keep them; returns {pod: restarts}."""
        pods: list[PodState] = self.workload.pods()
        at = self.clock.now()
        counts = {p.name: p.restarts for p in pods}
        if self._preexisting is None:
            self._preexisting = set(counts)
        for name in counts:
            self._first_seen.setdefault(name, at)
        self._samples.append((at, counts))
        return counts

    def _baseline(self, pod: str, since_s: float) -> int:
        born_here = pod not in (self._preexisting or set())
        if born_here and self._first_seen.get(pod, since_s) >= since_s:
            return 0
        inside = [c[pod] for at, c in self._samples if at >= since_s and pod in c]
        return inside[0] if inside else 0

    def increase(self, since_s: float) -> dict[str, int]:
        """Restarts per pod (pods present in the latest sample) since `since_s`."""
        if not self._samples:
            return {}
        _, latest = self._samples[-1]
        return {pod: max(0, n - self._baseline(pod, since_s)) for pod, n in latest.items()}

    def alert(
        self,
        *,
        restarts: int = POD_CRASH_LOOPING_RESTARTS,
        window_s: float = POD_CRASH_LOOPING_WINDOW_S,
    ) -> AlertReading:
        """Sample, then judge the `PodCrashLooping` rule: a pod restarted > `restarts` times.

        The first time the rule holds is kept in `first_fired_s`.
        """
        self.sample()
        grown = self.increase(self.clock.now() - window_s)
        pod, count = max(grown.items(), key=lambda kv: (kv[1], kv[0]), default=("", 0))
        rule = f"> {restarts} restarts in {window_s:g} s"
        detail = f"{pod or 'no pod'}: {count} restarts in the window (rule {rule})"
        firing = count > restarts
        if firing and self.first_fired_s is None:
            self.first_fired_s = self.clock.now()
        return AlertReading(firing, pod, count, detail)

    def flat(self) -> Condition:
        """Holds while no pod's restart count rose since the previous look (samples each call)."""

        def check() -> Observation:
            before = self._samples[-1][1] if self._samples else None
            now = self.sample()
            if before is None:
                return Observation(ok=True, detail=f"{sum(now.values())} restarts in total")
            rose = sorted(p for p, n in now.items() if n > before.get(p, 0))
            if rose:
                return Observation(ok=False, detail=f"restarted since the last look: {rose}")
            return Observation(ok=True, detail=f"restarts flat ({sum(now.values())} in total)")

        return Condition(f"restarts_flat({self.workload.name})", check)
