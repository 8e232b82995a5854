"""The write ledger: every acknowledged write, kept durably, compared with the database later.

One JSON line per acknowledged write (`{"key": ..., "at_s": ..., "payload_hash": ...}`), appended,
flushed and (by default) fsync'd before `record()` returns, so a crash of the writer or of the
drill keeps everything acknowledged so far. `at_s` comes from the drill's clock; with
`SystemClock` that is CLOCK_MONOTONIC, which is system-wide on Linux, so ledgers written by other
processes on the same machine (the load generator) share the drill's time axis.

After recovery, `verify_ledger()` reads the orders table through the Database port and applies
`core.dataloss.compare_ledger`: acknowledged writes missing or altered, the span they cover up
to the fault (the measured RPO), duplicates and rows that should not exist. When the table
cannot be read it returns no report and the reason, and the drill's verdict is COULD_NOT_VERIFY.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from drills.core.dataloss import (
    AcknowledgedWrite,
    LedgerVerification,
    OrdersSource,
    verify_ledger,
)
from drills.core.errors import DrillError

__all__ = ["LedgerVerification", "OrdersSource", "WriteLedger", "read_ledger", "verify_ledger"]


class WriteLedger:
    """Append-only, durable record of acknowledged writes (thread-safe)."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = path.open("a", encoding="utf-8")

    def record(self, key: str, at_s: float, payload_hash: str) -> AcknowledgedWrite:
        """Append one acknowledged write; durable when this returns."""
        write = AcknowledgedWrite(key=key, at_s=at_s, payload_hash=payload_hash)
        line = json.dumps({"key": key, "at_s": at_s, "payload_hash": payload_hash}) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()
            if self.fsync:
                os.fsync(self._handle.fileno())
        return write

    def close(self) -> None:
        """Close the file (records already written stay)."""
        with self._lock:
            self._handle.close()

    def writes(self) -> list[AcknowledgedWrite]:
        """Every write recorded so far, in file order."""
        return read_ledger(self.path)


def read_ledger(path: Path) -> list[AcknowledgedWrite]:
    """Parse a ledger file; a torn last line (crash mid-write) is ignored, others are errors."""
    if not path.exists():
        raise DrillError(f"no write ledger at {path}; did the load record acknowledged writes?")
    lines = path.read_text(encoding="utf-8").splitlines()
    writes: list[AcknowledgedWrite] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            writes.append(
                AcknowledgedWrite(str(raw["key"]), float(raw["at_s"]), str(raw["payload_hash"]))
            )
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines):
                break
            raise DrillError(f"{path}:{number}: unreadable ledger line ({exc})") from exc
    return writes
