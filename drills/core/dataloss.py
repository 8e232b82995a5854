"""Compare the write ledger with what the database holds after recovery: the measured RPO.

Pure logic. The load side records every acknowledged write; after recovery the rows present are
read back. Measured RPO is the span from the oldest missing acknowledged write (made before the
fault) to the last acknowledged write before the fault; zero when nothing is missing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from drills.core.clock import DrillClock
from drills.core.errors import DrillError

__all__ = [
    "ORDERS_TABLE_DDL",
    "AcknowledgedWrite",
    "DataLossReport",
    "LedgerVerification",
    "OrdersSource",
    "canonical_payload",
    "compare_ledger",
    "payload_hash",
    "verify_ledger",
]

# The shared data contract of the demo shop's orders table (shop app, write ledger, locustfile).
ORDERS_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS orders (
  id bigserial PRIMARY KEY,
  order_key text NOT NULL,
  item text NOT NULL,
  quantity integer NOT NULL,
  payload_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS orders_order_key ON orders (order_key);
"""


def canonical_payload(order_key: str, item: str, quantity: int) -> str:
    """The JSON body a client sends for one order, in its one canonical spelling."""
    body = {"order_key": order_key, "item": item, "quantity": quantity}
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def payload_hash(order_key: str, item: str, quantity: int) -> str:
    """SHA-256 hex of the canonical payload: what the ledger and the orders row both keep."""
    return hashlib.sha256(canonical_payload(order_key, item, quantity).encode()).hexdigest()


@dataclass(frozen=True)
class AcknowledgedWrite:
    """One write the system acknowledged: its key, when (drill clock seconds), payload hash."""

    key: str
    at_s: float
    payload_hash: str


@dataclass(frozen=True)
class DataLossReport:
    """Outcome of comparing the ledger with the database after recovery."""

    acknowledged: int
    missing: tuple[str, ...]
    changed: tuple[str, ...]
    duplicates: tuple[str, ...]
    unexpected: tuple[str, ...]
    rpo_s: float
    oldest_missing_s: float | None
    last_acknowledged_before_fault_s: float | None

    @property
    def lost(self) -> int:
        """Acknowledged writes missing or altered."""
        return len(self.missing) + len(self.changed)


def compare_ledger(
    ledger: Iterable[AcknowledgedWrite],
    present: Mapping[str, tuple[str, int]],
    *,
    fault_at_s: float,
    expected_extra: Iterable[str] = (),
) -> DataLossReport:
    """Diff acknowledged writes against rows present.

    `present` maps key -> (payload hash, copies found). Writes acknowledged after the fault that
    are missing count as lost too, but the RPO span only covers writes made before the fault.
    `expected_extra` lists keys that may exist without a ledger entry (seed data).
    """
    writes = list(ledger)
    known = {w.key for w in writes}
    missing = [w for w in writes if w.key not in present]
    changed = [w.key for w in writes if w.key in present and present[w.key][0] != w.payload_hash]
    duplicates = sorted(k for k, (_, copies) in present.items() if copies > 1)
    allowed = set(expected_extra)
    unexpected = sorted(k for k in present if k not in known and k not in allowed)
    before = [w.at_s for w in writes if w.at_s <= fault_at_s]
    last_before = max(before) if before else None
    lost_before = [w.at_s for w in missing if w.at_s <= fault_at_s]
    oldest = min(lost_before) if lost_before else None
    rpo = 0.0 if oldest is None or last_before is None else last_before - oldest
    return DataLossReport(
        acknowledged=len(writes),
        missing=tuple(w.key for w in missing),
        changed=tuple(changed),
        duplicates=tuple(duplicates),
        unexpected=tuple(unexpected),
        rpo_s=rpo,
        oldest_missing_s=oldest,
        last_acknowledged_before_fault_s=last_before,
    )


class OrdersSource(Protocol):
    """What the comparison needs from a database (the Database port satisfies it)."""

    def orders_present(self) -> dict[str, tuple[str, int]]:
        """order_key -> (payload_hash, copies)."""
        ...


@dataclass(frozen=True)
class LedgerVerification:
    """Result of comparing a ledger with the database; `report` None = could not verify."""

    report: DataLossReport | None
    error: str | None
    rows_checked: int
    duration_s: float

    @property
    def rows_per_s(self) -> float:
        """Verification throughput (ledger entries + rows read, per second)."""
        return self.rows_checked / self.duration_s if self.duration_s > 0 else float("inf")


def verify_ledger(
    writes: Iterable[AcknowledgedWrite],
    source: OrdersSource,
    *,
    fault_at_s: float,
    clock: DrillClock,
    expected_extra: Iterable[str] = (),
) -> LedgerVerification:
    """Compare acknowledged writes with the orders present after recovery."""
    started = clock.now()
    ledger = list(writes)
    try:
        present = source.orders_present()
    except DrillError as exc:
        return LedgerVerification(None, f"orders table unreadable: {exc}", 0, 0.0)
    report = compare_ledger(ledger, present, fault_at_s=fault_at_s, expected_extra=expected_extra)
    return LedgerVerification(report, None, len(ledger) + len(present), clock.now() - started)
