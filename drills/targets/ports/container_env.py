"""Port for one env var of one named container of a Deployment, set by JSON patch.

RUNBOOKS.md §3.18 step 2 JSON-patches `RATE_LIMIT` into "container 0". The drill names the
container instead: the patch tests that the container at the index it writes is the one named,
so a pod template whose containers were reordered (a sidecar first) fails the patch rather than
limiting the wrong process.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ContainerEnv"]


class ContainerEnv(Protocol):
    """Env vars of the containers of one Deployment's pod template."""

    @property
    def target(self) -> str:
        """`<namespace>/deployment/<name>`."""
        ...

    def containers(self) -> list[str]:
        """The pod template's container names, in order."""
        ...

    def env(self, container: str, name: str) -> str | None:
        """The literal value of `name` in `container` (None: not set); DrillError if no such."""
        ...

    def patch_env(self, container: str, name: str, value: str | None) -> str:
        """Set (value None: remove) `name` in `container` by JSON patch; return the patch sent."""
        ...
