"""Compare the write ledger with what the database holds after recovery: the measured RPO.

Pure logic. The load side records every acknowledged write; after recovery the rows present are
read back. An acknowledged write is lost when its row is missing or holds other content than was
acknowledged. Measured RPO is the span from the oldest lost write made before the fault up to
the fault itself, so losing only the newest write still reads as a loss, not as 0; it is 0 when
nothing acknowledged before the fault is lost. A ledger with no write acknowledged before the
fault proves nothing: the span is unmeasured (None) and the RPO is COULD_NOT_VERIFY.
Duplicated acknowledged writes and rows no acknowledged write explains are judged apart, against
the profile's `[ledger]` limits (`LedgerLimits`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from drills.core.clock import DrillClock
from drills.core.errors import DrillError
from drills.core.objectives import Objective, ObjectiveResult, Verdict, evaluate

__all__ = [
    "ORDERS_TABLE_DDL",
    "AcknowledgedWrite",
    "DataLossReport",
    "LedgerLimits",
    "LedgerVerification",
    "OrdersSource",
    "canonical_payload",
    "compare_ledger",
    "extra_rows_breaches",
    "judge_rpo",
    "payload_hash",
    "verify_ledger",
]

NOTHING_BEFORE_THE_FAULT = (
    "no write was acknowledged before the fault, so the ledger cannot show what the fault "
    "lost; check that users could write (POST /orders answered 201) before the injection"
)

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
    """Outcome of comparing the ledger with the database after recovery.

    `rpo_s` is the span from `oldest_lost_s` (the oldest lost write made before the fault) to
    `fault_at_s`; None when no write was acknowledged before the fault (nothing to measure).
    """

    acknowledged: int
    missing: tuple[str, ...]
    changed: tuple[str, ...]
    duplicates: tuple[str, ...]
    unexpected: tuple[str, ...]
    rpo_s: float | None
    oldest_lost_s: float | None
    last_acknowledged_before_fault_s: float | None
    fault_at_s: float = 0.0
    acknowledged_before_fault: int = 0
    lost_after_fault: int = 0

    @property
    def lost(self) -> int:
        """Acknowledged writes missing or altered."""
        return len(self.missing) + len(self.changed)

    @property
    def unmeasured_reason(self) -> str | None:
        """Why the span could not be measured, or None when it was."""
        return NOTHING_BEFORE_THE_FAULT if self.rpo_s is None else None

    def describe_lost(self, *, limit: int = 3) -> str:
        """`3 of 800 acknowledged writes lost (2 missing, 1 altered; e.g. k1, k2, k3)`."""
        text = f"{self.lost} of {self.acknowledged} acknowledged writes lost"
        if not self.lost:
            return text
        keys = (self.missing + self.changed)[:limit]
        more = ", ..." if self.lost > limit else ""
        return (
            f"{text} ({len(self.missing)} missing, {len(self.changed)} altered, "
            f"{self.lost_after_fault} of them acknowledged after the fault; "
            f"e.g. {', '.join(keys)}{more})"
        )


def compare_ledger(
    ledger: Iterable[AcknowledgedWrite],
    present: Mapping[str, tuple[str, int]],
    *,
    fault_at_s: float,
    expected_extra: Iterable[str] = (),
) -> DataLossReport:
    """Diff acknowledged writes against rows present.

    `present` maps key -> (payload hash, copies found). A write is lost when its row is missing
    or altered. Writes acknowledged after the fault that are lost count as lost too, but the RPO
    span only covers lost writes made before the fault, and it ends at the fault.
    `expected_extra` lists keys that may exist without a ledger entry (rows from before the
    drill); they are neither unexpected nor judged as duplicates.
    """
    writes = list(ledger)
    known = {w.key for w in writes}
    allowed = set(expected_extra)
    missing = [w for w in writes if w.key not in present]
    changed = [w for w in writes if w.key in present and present[w.key][0] != w.payload_hash]
    lost = missing + changed
    duplicates = sorted(k for k, (_, n) in present.items() if n > 1 and k not in allowed)
    unexpected = sorted(k for k in present if k not in known and k not in allowed)
    before = [w.at_s for w in writes if w.at_s <= fault_at_s]
    lost_before = [w.at_s for w in lost if w.at_s <= fault_at_s]
    oldest = min(lost_before) if lost_before else None
    rpo: float | None = None
    if before:
        rpo = 0.0 if oldest is None else fault_at_s - oldest
    return DataLossReport(
        acknowledged=len(writes),
        missing=tuple(w.key for w in missing),
        changed=tuple(w.key for w in changed),
        duplicates=tuple(duplicates),
        unexpected=tuple(unexpected),
        rpo_s=rpo,
        oldest_lost_s=oldest,
        last_acknowledged_before_fault_s=max(before) if before else None,
        fault_at_s=fault_at_s,
        acknowledged_before_fault=len(before),
        lost_after_fault=len(lost) - len(lost_before),
    )


def judge_rpo(
    objective: Objective, report: DataLossReport, *, lossless: bool = False
) -> ObjectiveResult:
    """Judge the lost span against the RPO target.

    COULD_NOT_VERIFY when nothing was acknowledged before the fault. FAIL when the span exceeds
    the target, and also whenever any acknowledged write is lost while the target is 0 or the
    drill declares its fault `lossless` (it touches no data, e.g. killing stateless pods): a loss
    is then a defect whatever span it covers. The detail names some of the lost writes.
    """
    if report.rpo_s is None:
        return evaluate(objective, None, report.unmeasured_reason or NOTHING_BEFORE_THE_FAULT)
    detail = report.describe_lost()
    result = evaluate(objective, report.rpo_s, detail)
    if report.lost and result.verdict is Verdict.PASS and (lossless or objective.target_s == 0):
        why = (
            "this fault touches no data, so none may be lost: check which database the service "
            "wrote to and what else deletes or changes its rows"
            if lossless
            else "RPO target 0"
        )
        return replace(result, verdict=Verdict.FAIL, detail=f"{detail}; {why}")
    return result


@dataclass(frozen=True)
class LedgerLimits:
    """What a ledger comparison tolerates besides lost writes (a profile's `[ledger]`).

    `max_duplicates`: acknowledged writes stored more than once (a replayed insert); none by
    default. `max_unexpected_ratio`: rows of this drill's traffic that no acknowledged write
    explains, as a share of the acknowledged writes. A request cut off after its commit (a
    killed pod, the load's stop, a client timeout) leaves one such row, so a few are normal; a
    replay or traffic to the wrong database leaves many.
    """

    max_duplicates: int = 0
    max_unexpected_ratio: float = 0.01

    def unexpected_allowed(self, acknowledged: int) -> int:
        """How many unexpected rows `acknowledged` writes may come with."""
        return math.floor(self.max_unexpected_ratio * acknowledged)


def extra_rows_breaches(report: DataLossReport, limits: LedgerLimits) -> list[str]:
    """What breaks the limits on duplicated and unexpected rows (empty: within them)."""
    breaches = []
    if len(report.duplicates) > limits.max_duplicates:
        breaches.append(
            f"{len(report.duplicates)} acknowledged writes are stored more than once "
            f"(limit {limits.max_duplicates}; e.g. {', '.join(report.duplicates[:3])}): an "
            "insert was replayed; check retries between the load and the database"
        )
    allowed = limits.unexpected_allowed(report.acknowledged)
    if len(report.unexpected) > allowed:
        breaches.append(
            f"{len(report.unexpected)} rows no acknowledged write explains (limit {allowed}: "
            f"{limits.max_unexpected_ratio:g} of {report.acknowledged} acknowledged; e.g. "
            f"{', '.join(report.unexpected[:3])}): check which writers reach this database"
        )
    return breaches


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
