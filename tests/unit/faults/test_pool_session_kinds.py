"""PoolExhaustion's `idle_in_transaction_every`: which kind of sessions the leak holds.

The `db-pool-exhaustion` practical's variants (`idle-leak`, `idle-in-transaction-leak`) are
this one parameter of the drill's own fault; the cap and the landing check do not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from drills.core.errors import InjectionFailed
from drills.faults.pool import LeakCap, PoolExhaustion, session_kinds
from drills.targets.ports.data import ConnectionLimits

REFUSAL = "FATAL:  sorry, too many clients already"


@dataclass
class Server:
    """27 ordinary slots; the shop's pools hold `others`; the leaked sessions by state."""

    others: int = 15
    states: list[str] = field(default_factory=list)
    free_a_slot_once: bool = False

    def room(self) -> int:
        return max(0, 27 - self.others - len(self.states))


@dataclass
class Holder:
    """Opens sessions the way PostgresSessionHolder does: every nth of a batch in a transaction."""

    server: Server
    application_name: str = "drills-leak-test"
    refusal: str | None = None
    asked: list[int] = field(default_factory=list)

    def hold(self, count: int, *, idle_in_transaction_every: int = 2) -> int:
        self.asked.append(idle_in_transaction_every)
        opened = min(count, self.server.room())
        every = idle_in_transaction_every
        for index in range(opened):
            in_transaction = every > 0 and index % every == every - 1
            self.server.states.append("idle in transaction" if in_transaction else "idle")
        if opened < count:
            self.refusal = REFUSAL
        return opened

    def held(self) -> int:
        return len(self.server.states)

    def release(self) -> None:
        self.server.states.clear()


@dataclass
class App:
    server: Server
    name: str = "shop"

    def dsn(self) -> str:
        return "postgresql://app:pw@127.0.0.1:5432/shop"

    def limits(self) -> ConnectionLimits:
        return ConnectionLimits(30, 3, self.server.others + len(self.server.states))

    def probe(self, *, timeout_s: float = 2.0) -> tuple[bool, str]:
        if self.server.free_a_slot_once:  # a shop pod closed one of its pool's connections
            self.server.free_a_slot_once, self.server.others = False, self.server.others - 1
        ok = self.server.room() > 0
        return ok, "SELECT 1 answered" if ok else REFUSAL

    def terminate_application(self, application_name: str) -> list[int]:
        return []


def _leak(server: Server, every: int, *, cap: LeakCap | None = None) -> PoolExhaustion:
    app = App(server)
    return PoolExhaustion(
        Holder(server),
        app,  # type: ignore[arg-type]
        app,  # type: ignore[arg-type]
        cap=cap or LeakCap(fill_server=True),
        idle_in_transaction_every=every,
    )


@pytest.mark.parametrize(
    ("every", "states"),
    [
        (0, {"idle": 12}),
        (1, {"idle in transaction": 12}),
        (2, {"idle": 6, "idle in transaction": 6}),
    ],
)
def test_the_parameter_chooses_the_state_of_every_leaked_session(
    every: int, states: dict[str, int]
) -> None:
    server = Server()
    _leak(server, every).apply()
    assert {s: server.states.count(s) for s in set(server.states)} == states


@pytest.mark.parametrize("every", [0, 1])
def test_a_slot_taken_after_a_refused_probe_is_of_the_same_kind(every: int) -> None:
    server = Server(free_a_slot_once=True)
    fault = _leak(server, every)
    fault.apply()
    assert fault.opened == 13  # 12, then the slot a shop pod freed meanwhile
    assert fault.holder.asked == [every, every]  # type: ignore[attr-defined]
    assert len(set(server.states)) == 1


def test_the_kind_keeps_the_cap_and_the_landing_check() -> None:
    server = Server(others=0)
    fault = _leak(server, 1, cap=LeakCap(fill_server=True, max_sessions=5, source="p.toml"))
    with pytest.raises(InjectionFailed, match="more slots than the leak may take"):
        fault.apply()
    assert server.states == ["idle in transaction"] * 5


@pytest.mark.parametrize(
    ("every", "said"),
    [
        (0, "every session idle)"),
        (1, "every session idle in transaction)"),
        (2, "one session in 2 idle in transaction, the rest idle)"),
    ],
)
def test_the_plan_line_says_which_sessions_leak(every: int, said: str) -> None:
    assert _leak(Server(), every).describe().endswith(said)
    assert session_kinds(every) == said.rstrip(")")
