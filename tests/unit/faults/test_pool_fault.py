"""PoolExhaustion on an in-memory server: capped, and landed only when a connection is refused."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from drills.core.errors import InjectionFailed, SafetyViolation
from drills.faults.pool import LeakCap, PoolExhaustion
from drills.targets.ports.data import ConnectionLimits

REFUSAL = "FATAL:  sorry, too many clients already"


@dataclass
class Server:
    """max_connections with 3 reserved slots; `others` sessions held by the shop's own pools."""

    max_connections: int = 30
    others: int = 15
    leaked: int = 0
    role_limit: int | None = None
    probes: list[bool] = field(default_factory=list)

    def limits(self) -> ConnectionLimits:
        used = self.others + self.leaked
        return ConnectionLimits(
            self.max_connections,
            3,
            used,
            role="app",
            role_limit=self.role_limit,
            role_in_use=used,
            database="shop",
        )

    def room(self) -> int:
        free = self.max_connections - 3 - self.others - self.leaked
        if self.role_limit is not None:
            free = min(free, self.role_limit - self.others - self.leaked)
        return max(0, free)


@dataclass
class Holder:
    server: Server
    application_name: str = "drills-leak-test"
    refusal: str | None = None

    def hold(self, count: int, *, idle_in_transaction_every: int = 2) -> int:
        opened = min(count, self.server.room())
        self.server.leaked += opened
        if opened < count:
            self.refusal = REFUSAL
        return opened

    def held(self) -> int:
        return self.server.leaked

    def release(self) -> None:
        self.server.leaked = 0


@dataclass
class App:
    """The application's database: probe() connects as the shop's role."""

    server: Server
    name: str = "shop"
    free_a_slot_once: bool = False

    def dsn(self) -> str:
        return "postgresql://app:pw@127.0.0.1:5432/shop"

    def limits(self) -> ConnectionLimits:
        return self.server.limits()

    def probe(self, *, timeout_s: float = 2.0) -> tuple[bool, str]:
        if self.free_a_slot_once:  # a shop pod closed one of its pool's connections
            self.free_a_slot_once, self.server.others = False, self.server.others - 1
        ok = self.server.room() > 0
        self.server.probes.append(ok)
        return ok, "SELECT 1 answered" if ok else REFUSAL

    def terminate_application(self, application_name: str) -> list[int]:
        return []


def _fault(server: Server, cap: LeakCap, app: App | None = None) -> PoolExhaustion:
    return PoolExhaustion(Holder(server), App(server), app or App(server), cap=cap)  # type: ignore[arg-type]


def test_the_leak_fills_the_server_with_the_opt_in_and_a_new_connection_is_refused() -> None:
    server = Server()
    fault = _fault(server, LeakCap(fill_server=True))
    fault.apply()
    assert fault.opened == 12  # 27 ordinary slots, 15 held by the shop's pools
    assert fault.refusal == REFUSAL
    assert server.probes == [False]
    assert "fill_server" in fault.scope


def test_a_leak_capped_below_the_free_slots_did_not_exhaust_anything() -> None:
    server = Server(max_connections=100)
    fault = _fault(server, LeakCap(fill_server=True, max_sessions=20, source="p.toml"))
    with pytest.raises(InjectionFailed, match="more slots than the leak may take") as raised:
        fault.apply()
    assert fault.opened == 20
    assert server.probes == [True]  # accepted once; the leak was already at its cap
    assert "capped by [pool] max_sessions 20 in p.toml" in str(raised.value)
    assert "35 sessions of max_connections 100" in str(raised.value)


def test_a_slot_freed_while_filling_is_taken_before_the_fault_counts_as_landed() -> None:
    server = Server()
    fault = _fault(server, LeakCap(fill_server=True), App(server, free_a_slot_once=True))
    fault.apply()
    assert fault.opened == 13
    assert server.probes == [True, False]


def test_a_shared_server_without_an_own_limit_or_opt_in_is_refused_untouched() -> None:
    server = Server()
    fault = _fault(server, LeakCap(source="staging.toml"))
    with pytest.raises(SafetyViolation, match="every role and database on it shares") as raised:
        fault.apply()
    assert "ALTER ROLE app CONNECTION LIMIT" in str(raised.value)
    assert "fill_server = true in staging.toml" in str(raised.value)
    assert server.leaked == 0


def test_the_role_limit_bounds_the_leak_without_an_opt_in() -> None:
    server = Server(max_connections=100, role_limit=20)
    fault = _fault(server, LeakCap())
    fault.apply()
    assert fault.opened == 5  # the role's 20 minus the shop's own 15
    assert fault.scope == "role app CONNECTION LIMIT 20"
    assert server.max_connections - 3 - server.others - server.leaked == 77  # others unharmed


@pytest.mark.parametrize(
    ("limits", "cap", "expected"),
    [
        (ConnectionLimits(30, 3, 1, role_limit=10), LeakCap(), 10),
        (ConnectionLimits(30, 3, 1, role_limit=10, database_limit=8), LeakCap(), 8),
        (ConnectionLimits(30, 3, 1), LeakCap(fill_server=True), 27),
        (ConnectionLimits(30, 3, 1), LeakCap(fill_server=True, max_sessions=5), 5),
        (ConnectionLimits(30, 3, 1, role_limit=10), LeakCap(max_sessions=50), 10),
    ],
)
def test_the_cap(limits: ConnectionLimits, cap: LeakCap, expected: int) -> None:
    assert cap.sessions(limits)[0] == expected
