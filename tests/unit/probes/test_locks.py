"""Lock probes: the alert (someone waits behind a blocker) and the drained queue."""

from __future__ import annotations

from dataclasses import dataclass, field

from drills.core.locks import LockRow, LockSnapshot
from drills.probes.locks import lock_queue_drained, lock_waits
from drills.targets.ports.locks import BackendIdentity


@dataclass
class ScriptedMonitor:
    snapshots: list[LockSnapshot] = field(default_factory=list)

    def snapshot(self) -> LockSnapshot:
        return self.snapshots.pop(0)

    def session_states(self) -> dict[int, tuple[str, str, str]]:
        return {}

    def terminate_blocker(self, pid: int, backend_start: str) -> bool:
        return False

    def terminate(self, pids: list[int]) -> list[int]:
        return []

    def end_backend(self, identity: BackendIdentity) -> bool:
        return False

    def alive(self, identities: list[BackendIdentity]) -> list[BackendIdentity]:
        return []

    def statement_stats(self, limit: int = 3) -> list[str] | None:
        return None


QUEUE = LockSnapshot.of(
    [
        LockRow(
            700,
            "drills-lock-1",
            "T",
            "idle in transaction",
            "relation",
            "orders",
            "ExclusiveLock",
            granted=True,
        ),
        LockRow(
            801,
            "shop",
            "T",
            "active",
            "relation",
            "orders",
            "RowExclusiveLock",
            granted=False,
            blocked_by=(700,),
            wait_s=1.5,
            query="INSERT INTO orders",
        ),
    ]
)


def test_lock_waits_holds_while_someone_waits_behind_a_blocker() -> None:
    probe = lock_waits(ScriptedMonitor([QUEUE, LockSnapshot()]))
    seen = probe()
    assert seen.ok
    assert "1 backend(s) wait behind pid 700 (drills-lock-1)" in seen.detail
    gone = probe()
    assert not gone.ok
    assert gone.detail == "no backend waits behind a blocker in pg_locks"


def test_the_queue_is_drained_once_nobody_waits() -> None:
    probe = lock_queue_drained(ScriptedMonitor([QUEUE, LockSnapshot()]))
    waiting = probe()
    assert not waiting.ok
    assert "1 backend(s) still wait: pid 801 (shop) waits 1.5 s for RowExclusiveLock" in (
        waiting.detail
    )
    assert probe().ok
