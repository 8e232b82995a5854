"""Runbook step "point the app at the restored instance and restart it" (RUNBOOKS §3.6 step 4).

`repoint()` does what an SRE does on a cluster: store the new database URL where the service
reads it (a Secret), `rollout restart` the Deployment and wait until the rollout has finished.
The URLs carry credentials on real environments, so everything this module says shows them
through `masked_password()` only.
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.core.clock import DrillClock
from drills.core.conditions import Observation
from drills.core.secrets import masked_password
from drills.core.waiting import wait_until
from drills.targets.ports.config import ServiceConfig

__all__ = ["Repointed", "repoint", "rollout_finished"]


@dataclass(frozen=True)
class Repointed:
    """A finished repoint: from where to where (redacted), and how long each part took."""

    where: str
    previous: str
    current: str
    restarted_at: str
    rollout_s: float
    total_s: float

    def summary(self) -> str:
        """One line for the report."""
        return (
            f"{self.where}: {self.previous} -> {self.current}; rollout restart at "
            f"{self.restarted_at} finished in {self.rollout_s:.1f} s"
        )


def rollout_finished(config: ServiceConfig) -> Observation:
    """One look at the rollout: ok once `kubectl rollout status` would say it finished."""
    state = config.rollout()
    return Observation(ok=state.complete, detail=f"rollout: {state.describe()}")


def repoint(
    config: ServiceConfig,
    url: str,
    *,
    clock: DrillClock,
    timeout_s: float = 300.0,
    poll_s: float = 0.5,
) -> Repointed:
    """Set the database URL, restart the service and wait for the rollout to finish.

    Raises WaitTimeout (with the last rollout reading) when the rollout does not finish within
    `timeout_s`: look at the new pods' readiness, they may not reach the new database.
    """
    started = clock.now()
    previous = config.database_url()
    config.set_database_url(url)
    stamp = config.restart()
    restarted = clock.now()
    wait_until(
        lambda: rollout_finished(config),
        clock=clock,
        timeout_s=timeout_s,
        poll_s=poll_s,
        description=f"rollout after pointing {config.where} at {masked_password(url)}",
    )
    done = clock.now()
    return Repointed(
        where=config.where,
        previous=masked_password(previous),
        current=masked_password(url),
        restarted_at=stamp,
        rollout_s=done - restarted,
        total_s=done - started,
    )
