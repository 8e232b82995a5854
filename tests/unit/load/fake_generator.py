"""An in-memory load generator for unit tests: a user count and a switch to kill it."""

from __future__ import annotations

from dataclasses import dataclass, field

from drills.core.dataloss import AcknowledgedWrite
from drills.core.errors import LoadGeneratorDied
from drills.targets.ports.load import ShapeSpec


@dataclass
class FakeGenerator:
    """Satisfies the LoadGenerator port; `died` makes `check_running` raise its text."""

    running_users: int = 20
    died: str | None = None
    writes: list[AcknowledgedWrite] = field(default_factory=list)

    def start(self, shape: ShapeSpec) -> None:
        """Nothing runs: the test adds the records itself."""

    def stop(self) -> None:
        """Users stop."""
        self.running_users = 0

    def users(self) -> int:
        """The users the test says run."""
        return self.running_users

    def acknowledged(self) -> list[AcknowledgedWrite]:
        """The writes the test put there."""
        return list(self.writes)

    def check_running(self) -> None:
        """Raise LoadGeneratorDied once the test killed it."""
        if self.died is not None:
            raise LoadGeneratorDied(self.died)
