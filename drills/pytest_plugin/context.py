"""The composition root of a session: settings, profile, clock, events, ledgers, reporters.

One `DrillContext` per pytest session (`build_context` refuses a second). Ledgers: every fault's
rollback is written to the persistent ledger (default `.drills/rollbacks.jsonl` under the
rootdir, which `drills rollback` replays after a crash) and mirrored into
`<report-dir>/rollbacks.jsonl` as evidence of the run.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from drills.core.clock import DrillClock, SystemClock
from drills.core.errors import ConfigError
from drills.core.events import DrillEvents
from drills.core.profile import Profile, load_profile, resolve_profile_path
from drills.core.safety import RollbackEntry, RollbackLedger
from drills.pytest_plugin.options import DEFAULT_ENV, DrillSettings

__all__ = ["DrillContext", "DrillTerminated", "MirroredLedger", "SigtermGuard"]


class DrillTerminated(KeyboardInterrupt):
    """SIGTERM arrived; raised in the main thread so finalizers and rollbacks still run."""


class MirroredLedger(RollbackLedger):
    """A ledger whose every line is also appended to a second (per-run) ledger file."""

    def __init__(self, path: Path, mirror: Path) -> None:
        super().__init__(path)
        self.mirror = RollbackLedger(mirror)

    def record(self, entry: RollbackEntry) -> None:
        """Write the pending line durably to both files (persistent first)."""
        super().record(entry)
        self.mirror.record(entry)

    def mark_done(self, entry_id: str, *, outcome: str = "done") -> None:
        """Mark the entry in both files."""
        super().mark_done(entry_id, outcome=outcome)
        self.mirror.mark_done(entry_id, outcome=outcome)


_Handler = Callable[[int, FrameType | None], Any] | int | None


class SigtermGuard:
    """Turns SIGTERM into DrillTerminated for the session; chains to the earlier handler after."""

    def __init__(self) -> None:
        self.previous: _Handler = None
        self.installed = False
        self.fired = False

    def install(self) -> None:
        """Install the handler (main thread only; elsewhere it is a no-op)."""
        try:
            self.previous = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:
            return  # not the main thread: nothing to do
        self.installed = True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.fired = True
        raise DrillTerminated(f"signal {signum} (SIGTERM): rolling back and stopping")

    def uninstall(self) -> None:
        """Restore the earlier handler and, if SIGTERM arrived, call it when it is a function."""
        if not self.installed:
            return
        signal.signal(signal.SIGTERM, self.previous)
        self.installed = False
        if self.fired and callable(self.previous):
            self.previous(signal.SIGTERM, None)


@dataclass
class DrillContext:
    """Everything a drill needs from the session; built once in pytest_sessionstart."""

    settings: DrillSettings
    root: Path
    clock: DrillClock = field(default_factory=SystemClock)
    events: DrillEvents = field(default_factory=DrillEvents)
    guard: SigtermGuard = field(default_factory=SigtermGuard)
    started_at: str = ""
    drills_run: int = 0
    current_nodeid: str = ""
    _profile: Profile | None = None
    _ledger: MirroredLedger | None = None

    @property
    def profile_path(self) -> Path:
        """The profile file the settings point at (raises ConfigError if there is none)."""
        return resolve_profile_path(self.settings.env, self.settings.profiles_dir)

    @property
    def profile(self) -> Profile:
        """The validated profile, with CLI/ini objective overrides applied (loaded once)."""
        if self._profile is None:
            loaded = load_profile(self.profile_path)
            self._profile = loaded.with_objectives(self.settings.objectives)
        return self._profile

    @property
    def ledger(self) -> MirroredLedger:
        """The persistent ledger, mirrored into the report directory."""
        if self._ledger is None:
            mirror = self.settings.report_dir / "rollbacks.jsonl"
            self._ledger = MirroredLedger(self.settings.ledger_path, mirror)
        return self._ledger

    @property
    def environment(self) -> str:
        """The profile's name for reports (the --drill-env text if it cannot be loaded)."""
        try:
            return self.profile.name
        except ConfigError:
            return self.settings.env

    def preload_profile(self) -> None:
        """Validate the profile now; a missing default profile is tolerated until a drill runs."""
        try:
            _ = self.profile
        except ConfigError as exc:
            missing = not (self.settings.profiles_dir / f"{self.settings.env}.toml").exists()
            if (
                missing
                and self.settings.env == DEFAULT_ENV
                and not self.settings.env.endswith(".toml")
            ):
                return
            raise pytest.UsageError(str(exc)) from exc

    def pending_rollbacks(self) -> int:
        """How many rollbacks an earlier run left pending in the persistent ledger."""
        try:
            return len(RollbackLedger(self.settings.ledger_path).pending())
        except ConfigError:
            return 0
