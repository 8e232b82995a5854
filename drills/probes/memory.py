"""Probes for containers killed for memory (RUNBOOKS.md §3.3).

- `OomWatch`: the distinct OOM kills of a Deployment's containers over time, each with the drill
  time it was first seen (a kill is a terminated block with reason OOMKilled and exit code 137,
  told apart by its finishedAt; `drills.core.memory`).
- `oom_killed`: a kill seen since the watch began (the detection signal).
- `no_oom_kill_since`: no kill first seen after a moment (the verification after the fix).
- `limit_live`: every live pod runs the container under a given limit (the raise has landed).
"""

from __future__ import annotations

from drills.core.clock import DrillClock
from drills.core.conditions import Condition, Observation
from drills.core.memory import ContainerMemory, OomKill, format_bytes, oom_kills
from drills.targets.ports.memory import MemoryLimits

__all__ = ["OomWatch", "limit_live", "no_oom_kill_since", "oom_killed"]

_SHOWN = 4


class OomWatch:
    """OOM kills of a Deployment's containers, sampled on the drill clock.

    Kills visible at the first sample happened before the watch and count as before it.
    """

    def __init__(self, memory: MemoryLimits, *, clock: DrillClock) -> None:
        self.memory, self.clock = memory, clock
        self.started_s = clock.now()
        self._first_seen: dict[OomKill, float] = {}
        self.latest: list[ContainerMemory] = []
        self._sampled = False

    def sample(self) -> list[ContainerMemory]:
        """Read the containers now and note every kill not seen before."""
        containers = self.memory.containers()
        at = self.clock.now()
        for kill in oom_kills(containers):
            self._first_seen.setdefault(kill, at if self._sampled else self.started_s)
        self.latest, self._sampled = containers, True
        return containers

    def kills_since(self, since_s: float) -> list[OomKill]:
        """Kills first seen after `since_s` (drill clock), oldest first."""
        found = [(at, k) for k, at in self._first_seen.items() if at > since_s]
        return [k for _, k in sorted(found, key=lambda pair: (pair[0], pair[1].pod))]

    def first_seen_s(self, kill: OomKill) -> float | None:
        """When `kill` was first seen (drill clock), None if never."""
        return self._first_seen.get(kill)


def _listing(kills: list[OomKill]) -> str:
    shown = ", ".join(f"{k.pod}/{k.container} (limit {format_bytes(k.limit_bytes)})" for k in kills)
    more = len(kills) - _SHOWN
    return shown if more <= 0 else f"{shown} and {more} more"


def oom_killed(watch: OomWatch) -> Condition:
    """Holds once some container was OOM-killed (exit 137) since the watch began."""

    def check() -> Observation:
        watch.sample()
        kills = watch.kills_since(watch.started_s)
        if kills:
            return Observation(ok=True, detail=f"OOMKilled (exit 137): {_listing(kills[:_SHOWN])}")
        states = "; ".join(c.describe() for c in watch.latest if not c.deleting) or "no pods"
        return Observation(ok=False, detail=f"no OOM kill yet: {states}")

    return Condition(f"oom_killed({watch.memory.name})", check)


def no_oom_kill_since(
    watch: OomWatch, since_s: float, *, limit_bytes: int | None = None
) -> Condition:
    """Holds while no container was OOM-killed after `since_s` (drill clock).

    With `limit_bytes`, only kills under that limit count: after a raise, an old pod still
    draining under the old limit is not the fix failing.
    """

    def check() -> Observation:
        watch.sample()
        kills = [
            k
            for k in watch.kills_since(since_s)
            if limit_bytes is None or k.limit_bytes == limit_bytes
        ]
        if kills:
            return Observation(
                ok=False, detail=f"{len(kills)} OOM kills since the fix: {_listing(kills)}"
            )
        return Observation(ok=True, detail="no OOM kill since the fix")

    return Condition(f"no_oom_kill_since({watch.memory.name})", check)


def limit_live(watch: OomWatch, container: str, limit_bytes: int) -> Condition:
    """Every live pod runs `container` with limits.memory = `limit_bytes` (from the pods' spec)."""
    wanted = format_bytes(limit_bytes)

    def check() -> Observation:
        live = [c for c in watch.sample() if c.container == container and not c.deleting]
        behind = [c for c in live if c.limit_bytes != limit_bytes]
        if live and not behind:
            return Observation(ok=True, detail=f"{len(live)}/{len(live)} pods at {wanted}")
        seen = ", ".join(f"{c.pod}: {format_bytes(c.limit_bytes)}" for c in behind[:_SHOWN])
        return Observation(
            ok=False,
            detail=f"{len(live) - len(behind)}/{len(live)} pods run {container} at {wanted}"
            + (f"; still {seen}" if seen else ""),
        )

    return Condition(f"limit_live({watch.memory.name}/{container}, {wanted})", check)
