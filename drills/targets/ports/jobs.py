"""Port for Kubernetes Jobs the harness runs itself (the in-cluster Locust workers)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["JobState", "Jobs"]


@dataclass(frozen=True)
class JobState:
    """A Job as the controller reports it, and its pods' phases."""

    name: str
    active: int
    succeeded: int
    failed: int
    pod_phases: tuple[str, ...] = ()

    def describe(self) -> str:
        """`job/x: 2 active, 0 succeeded, 0 failed; pods Running, Running`."""
        pods = ", ".join(self.pod_phases) or "none"
        return (
            f"job/{self.name}: {self.active} active, {self.succeeded} succeeded, "
            f"{self.failed} failed; pods {pods}"
        )


class Jobs(Protocol):
    """Create, read and delete Jobs in one namespace."""

    @property
    def namespace(self) -> str:
        """The namespace the Jobs live in."""
        ...

    def create(self, manifest: Mapping[str, Any]) -> None:
        """Create the Job `manifest` describes."""
        ...

    def state(self, name: str) -> JobState | None:
        """The Job's state, None when it does not exist."""
        ...

    def delete(self, name: str, *, timeout_s: float) -> bool:
        """Delete the Job and its pods, waiting until both are gone; False: it was not there."""
        ...
