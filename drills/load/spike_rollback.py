"""Replay a load spike's rollback from the ledger (entry point group `drills.rollbacks`).

The `hpa-spike` drill's fault is user load: Locust processes that run in their own sessions, so
they outlive a harness that is killed outright. The spike's ledger entry lists their pids
(`locust_pids`, comma-separated); replaying it sends SIGTERM to each one that is still a Locust
process (its command line names locust), and does nothing for pids that are gone or reused.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry

__all__ = ["LOAD_SPIKE_KIND", "register_rollbacks", "stop_spike_users"]

LOAD_SPIKE_KIND = "load-spike"


def _is_locust(pid: int, proc: Path) -> bool:
    try:
        command = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False
    return b"locust" in command


def stop_spike_users(entry: RollbackEntry, *, proc: Path = Path("/proc")) -> list[int]:
    """SIGTERM the entry's Locust processes that still run; returns the pids signalled."""
    raw = str(entry.args.get("locust_pids", ""))
    pids = [int(p) for p in raw.split(",") if p.strip().isdigit()]
    stopped = []
    for pid in pids:
        if not _is_locust(pid, proc):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
            stopped.append(pid)
    return stopped


def register_rollbacks(registry: RollbackRegistry) -> None:
    """Teach `drills rollback` the load-spike kind."""

    def undo(entry: RollbackEntry) -> Replayed:
        return Replayed.RESTORED if stop_spike_users(entry) else Replayed.ALREADY

    registry.register(LOAD_SPIKE_KIND, undo)
