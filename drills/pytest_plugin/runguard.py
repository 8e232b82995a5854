"""The session's run lock and halt lever (a plugin object registered by `pytest_configure`).

Once collection selected drills (not under --collect-only or --drill-dry-run, which act on
nothing), the session takes its environment's run lock for its whole life and refuses to start
while the halt lever is pulled (pytest.UsageError; `drills run` exits 2), then watches the halt
file. A pulled lever aborts the running drill through `Drill.abort`, as the kill switch does:
its next guarded wait, sleep or step raises DrillAborted, its rollbacks run and it ends ERROR
with "halted by ...". Drills not started yet are skipped with the same reason.
"""

from __future__ import annotations

import shlex
import sys

import pytest

from drills.core.drill import Drill
from drills.core.errors import ConfigError
from drills.core.halt import HaltNotice, HaltWatcher, halt_path, refuse_to_start
from drills.core.runlock import LockHolder, RunLock, lock_path
from drills.pytest_plugin.context import DrillContext
from drills.pytest_plugin.markers import drill_ids

__all__ = ["RunGuard"]

PLUGIN_NAME = "drills-run-guard"


class RunGuard:
    """Holds the run lock, watches the halt file, halts the running drill."""

    def __init__(self, context: DrillContext, drill_key: pytest.StashKey[Drill]) -> None:
        self.context, self._drill_key = context, drill_key
        self.lock: RunLock | None = None
        self.watcher: HaltWatcher | None = None
        self._item: pytest.Item | None = None
        self.not_started: list[str] = []

    @property
    def halted(self) -> HaltNotice | None:
        """The notice of a pulled lever, or None."""
        return None if self.watcher is None else self.watcher.notice

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Take the lock and arm the halt watcher when drills will act."""
        config = session.config
        ids = drill_ids(session.items)
        if not ids or config.option.collectonly or self.context.settings.dry_run:
            return
        try:
            profile = self.context.profile
        except ConfigError:
            return  # the drill fixture reports the profile's error
        env, root = profile.name, self.context.root
        try:
            refuse_to_start(root, env, profile.halt_file)
            lock = RunLock(lock_path(root, env), env)
            lock.acquire(
                LockHolder.of_this_process(
                    env,
                    started_at=self.context.clock.wall().isoformat(timespec="seconds"),
                    drills=ids,
                    command=shlex.join(sys.argv)[:500],
                )
            )
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from exc
        self.lock = lock
        self.watcher = HaltWatcher(halt_path(root, env, profile.halt_file), self._halt)
        self.watcher.start()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Skip every drill that has not started once the lever is pulled."""
        notice = self.halted
        if notice is not None:
            self.not_started.extend(drill_ids([item]) or (item.nodeid,))
            pytest.skip(f"not started: {notice.describe()}")
        self._item = item

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        """A lever pulled while the drill's fixtures were set up stops it at its first wait."""
        notice = self.halted
        if notice is not None:
            self._abort(item, notice)

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        """The item is done: a later halt has no drill of it to stop."""
        self._item = None

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Say who halted the run and how to clear the lever."""
        notice = self.halted
        if notice is not None and self.watcher is not None:
            skipped = f"; not started: {', '.join(self.not_started)}" if self.not_started else ""
            terminalreporter.write_line(
                f"drills: {notice.describe()}{skipped}; the halt file {self.watcher.path} stays "
                f"until `drills halt --clear --env {self.context.environment}`",
                red=True,
                bold=True,
            )

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Stop watching and release the lock."""
        self.close()

    def close(self) -> None:
        """Idempotent: stop the watcher, release the lock."""
        if self.watcher is not None:
            self.watcher.stop()
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def _halt(self, notice: HaltNotice) -> None:
        item = self._item  # read once: the main thread may clear it meanwhile
        if item is not None:
            self._abort(item, notice)

    def _abort(self, item: pytest.Item, notice: HaltNotice) -> None:
        runner = item.stash.get(self._drill_key, None)
        if runner is not None:
            runner.abort(notice.describe())
