"""The safe form of §3.10 step 4 ends each root blocker, re-checked, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field

from drills.core.locks import LockRow, LockSnapshot
from drills.recovery.terminate_blocker import SAFE_FORM, TerminateBlockers
from drills.targets.ports.locks import BackendIdentity


@dataclass
class FakeMonitor:
    """A LockMonitor over fixed backends: `still_blocking` answers the server's re-check."""

    still_blocking: set[tuple[int, str]] = field(default_factory=set)
    asked: list[tuple[int, str]] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)

    def snapshot(self) -> LockSnapshot:
        return LockSnapshot()

    def session_states(self) -> dict[int, tuple[str, str, str]]:
        return {}

    def terminate_blocker(self, pid: int, backend_start: str) -> bool:
        self.asked.append((pid, backend_start))
        if (pid, backend_start) in self.still_blocking:
            self.killed.append(pid)
            return True
        return False

    def terminate(self, pids: list[int]) -> list[int]:
        raise AssertionError("the safe form never terminates unchecked")

    def end_backend(self, identity: BackendIdentity) -> bool:
        raise AssertionError("the safe form ends blockers through terminate_blocker")

    def alive(self, identities: list[BackendIdentity]) -> list[BackendIdentity]:
        return identities

    def statement_stats(self, limit: int = 3) -> list[str] | None:
        return None


def _snapshot() -> LockSnapshot:
    holder = LockRow(
        700,
        "drills-lock-1",
        "T700",
        "idle in transaction",
        "relation",
        "orders",
        "ExclusiveLock",
        granted=True,
    )
    waiters = [
        LockRow(
            pid,
            "shop",
            f"T{pid}",
            "active",
            "relation",
            "orders",
            "RowExclusiveLock",
            granted=False,
            blocked_by=(700,),
            wait_s=1.0,
        )
        for pid in (801, 802)
    ]
    return LockSnapshot.of([holder, *waiters])


def test_only_the_root_blocker_is_terminated() -> None:
    monitor = FakeMonitor(still_blocking={(700, "T700")})
    done = TerminateBlockers(monitor)(_snapshot())
    assert monitor.asked == [(700, "T700")]
    assert monitor.killed == [700]
    assert [(s.pid, s.application_name, s.was_blocker) for s in done.terminated] == [
        (700, "drills-lock-1", True)
    ]
    assert done.innocent == ()
    assert done.form == SAFE_FORM
    assert TerminateBlockers(monitor).form == SAFE_FORM


def test_a_blocker_that_finished_or_whose_pid_was_reused_is_spared() -> None:
    monitor = FakeMonitor(still_blocking=set())  # the server's re-check says no
    done = TerminateBlockers(monitor)(_snapshot())
    assert done.terminated == ()
    assert [b.pid for b in done.blockers_left] == [700]
    assert done.skipped == ("pid 700: no longer the backend seen, or it blocks nobody now",)


def test_a_blocker_without_identity_is_never_terminated() -> None:
    waiter = LockRow(
        801,
        "shop",
        "T801",
        "active",
        "relation",
        "orders",
        "RowExclusiveLock",
        granted=False,
        blocked_by=(700,),
    )
    monitor = FakeMonitor(still_blocking={(700, "")})
    done = TerminateBlockers(monitor)(LockSnapshot.of([waiter]))
    assert monitor.asked == []
    assert done.terminated == ()
    assert len(done.skipped) == 1
