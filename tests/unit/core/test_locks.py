"""Who blocks whom in a pg_locks snapshot: root blockers, chains, cycles, judged terminations."""

from __future__ import annotations

from drills.core.locks import LockRow, LockSnapshot, Termination, terminated_from

INSERT = "INSERT INTO orders (order_key, item, quantity, payload_hash) VALUES ($1, $2, $3, $4)"


def _holder(pid: int = 700, mode: str = "ExclusiveLock", app: str = "drills-lock-1a2b") -> LockRow:
    return LockRow(
        pid,
        app,
        f"2026-12-05T04:00:0{pid % 10}Z",
        "idle in transaction",
        "relation",
        "orders",
        mode,
        granted=True,
        query="LOCK TABLE orders IN EXCLUSIVE MODE",
    )


def _waiter(pid: int, *blocked_by: int, wait_s: float = 1.0, app: str = "shop") -> LockRow:
    return LockRow(
        pid,
        app,
        f"2026-12-05T03:00:{pid % 60:02d}Z",
        "active",
        "relation",
        "orders",
        "RowExclusiveLock",
        granted=False,
        blocked_by=blocked_by,
        wait_s=wait_s,
        query=INSERT,
    )


def test_one_holder_with_writers_queued_is_the_one_root_blocker() -> None:
    snapshot = LockSnapshot.of([_holder(), _waiter(801, 700), _waiter(802, 700, wait_s=2.5)])
    [blocker] = snapshot.blockers()
    assert (blocker.pid, blocker.application_name) == (700, "drills-lock-1a2b")
    assert blocker.state == "idle in transaction"
    assert blocker.holds == ("ExclusiveLock on orders",)
    assert blocker.waiters == (801, 802)
    assert blocker.backend_start == "2026-12-05T04:00:00Z"
    assert [w.pid for w in snapshot.waiters()] == [802, 801]  # the oldest wait first
    assert snapshot.waiting_pids() == frozenset({801, 802})


def test_a_waiter_that_blocks_others_is_a_link_not_a_root() -> None:
    # 801 queued for an ACCESS EXCLUSIVE lock blocks 802 too; both wait behind 700.
    snapshot = LockSnapshot.of([_holder(), _waiter(801, 700), _waiter(802, 801, 700)])
    [blocker] = snapshot.blockers()
    assert blocker.pid == 700
    assert blocker.waiters == (801, 802)


def test_a_chain_counts_every_backend_behind_its_root() -> None:
    snapshot = LockSnapshot.of([_holder(), _waiter(801, 700), _waiter(802, 801), _waiter(803, 802)])
    [blocker] = snapshot.blockers()
    assert blocker.waiters == (801, 802, 803)


def test_a_deadlock_has_no_root_blocker() -> None:
    snapshot = LockSnapshot.of([_waiter(801, 802), _waiter(802, 801)])
    assert snapshot.blockers() == ()
    assert len(snapshot.waiters()) == 2


def test_no_waiter_means_no_blocker_even_with_locks_held() -> None:
    snapshot = LockSnapshot.of([_holder()])
    assert snapshot.blockers() == ()
    assert snapshot.waiters() == ()


def test_the_blocker_with_the_longest_queue_comes_first() -> None:
    rows = [_holder(700), _holder(710, app="migration"), _waiter(801, 700)]
    rows += [_waiter(811, 710), _waiter(812, 710)]
    assert [b.pid for b in LockSnapshot.of(rows).blockers()] == [710, 700]


def test_a_blocker_seen_only_through_its_waiters_has_no_identity() -> None:
    [blocker] = LockSnapshot.of([_waiter(801, 700)]).blockers()
    assert blocker.pid == 700
    assert blocker.backend_start == ""  # the recovery must not terminate a guess


def test_terminations_are_judged_against_the_snapshot() -> None:
    snapshot = LockSnapshot.of([_holder(), _waiter(801, 700), _waiter(802, 700)])
    states = {801: ("shop", "active", INSERT), 700: ("drills-lock-1a2b", "idle in transaction", "")}
    ended = terminated_from(snapshot, [801, 700], states=states)
    assert [(s.pid, s.was_blocker, s.was_waiting) for s in ended] == [
        (700, True, False),
        (801, False, True),
    ]
    done = Termination("rule", snapshot.blockers(), ended)
    assert [s.pid for s in done.innocent] == [801]
    assert done.blockers_left == ()
    assert "pid 801 (shop, active, waiting for a lock): INSERT INTO orders" in done.summary()


def test_a_termination_that_missed_the_blocker_says_so() -> None:
    snapshot = LockSnapshot.of([_holder(), _waiter(801, 700)])
    done = Termination("rule", snapshot.blockers(), skipped=("pid 700: gone",))
    assert [b.pid for b in done.blockers_left] == [700]
    assert done.innocent == ()
    assert done.summary() == "rule: rule; terminated: nothing; not terminated: pid 700: gone"
