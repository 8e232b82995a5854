"""The memory-leak fault of RUNBOOKS.md §3.3: a release that keeps memory on every request.

The demo shop keeps `LEAK_KB_PER_REQUEST` kilobytes forever per request (fixtures/shop/app.py),
so under load its memory climbs until the kubelet kills it with reason `OOMKilled`. The runbook
starts from the [000] limit of 512Mi; an environment may roll the release out with a smaller
limit so the kill comes within seconds (the profile's `[oom] limit`, printed in the report).
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.core.errors import InjectionFailed
from drills.core.safety import RollbackEntry
from drills.targets.ports.memory import MemoryLimits

__all__ = ["LEAKING_RELEASE_KIND", "LEAK_ENV", "LeakingRelease"]

LEAK_ENV = "LEAK_KB_PER_REQUEST"  # the shop's leak switch (fixtures/shop/app.py)
LEAKING_RELEASE_KIND = "leaking-release"


@dataclass
class LeakingRelease:
    """Roll out the leak (`leak_kb` per request) with limits.memory = `memory_limit`.

    The rollback entry holds the whole pod template read before the release, so putting it back
    also undoes whatever the recovery changed on top (the raised limit): the Deployment ends as
    the drill found it. `drills rollback` replays it after a crash (kind `leaking-release`).
    """

    memory: MemoryLimits
    container: str
    leak_kb: int
    memory_limit: str
    kind: str = LEAKING_RELEASE_KIND
    _template: str = ""

    @property
    def target(self) -> str:
        """The Deployment receiving the release."""
        return f"{self.memory.namespace}/deployment/{self.memory.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return (
            f"roll out {LEAK_ENV}={self.leak_kb} with memory limit {self.memory_limit} "
            f"to {self.target} (container {self.container})"
        )

    def rollback_entry(self) -> RollbackEntry:
        """Remember the pod template now, whole, to put it back."""
        self._template = self.memory.template()
        return RollbackEntry(self.kind, self.target, {"template": self._template})

    def apply(self) -> None:
        """Patch the leak and the limit into the template (one rollout); refuses a no-op."""
        if self.leak_kb <= 0:
            raise InjectionFailed(f"a leak of {self.leak_kb} kB per request leaks nothing")
        if self.container not in self.memory.template_limits():
            raise InjectionFailed(
                f"{self.target} has no container {self.container!r}: "
                f"{sorted(self.memory.template_limits())}"
            )
        self.memory.release(
            self.container, env={LEAK_ENV: str(self.leak_kb)}, memory_limit=self.memory_limit
        )

    def rollback(self) -> None:
        """Put the recorded template back unless it is already there; idempotent."""
        if self._template:
            self.memory.restore_template(self._template)
