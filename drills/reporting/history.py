"""RTO/RPO history across runs, read back from every reports/<run-id>/journal.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from drills.core.errors import ConfigError
from drills.core.journal import RunJournal
from drills.core.objectives import ObjectiveKind, Verdict

__all__ = ["HistoryRow", "load_history", "regressions"]


@dataclass(frozen=True)
class HistoryRow:
    """One drill in one run: when, where, verdict, and the measured RTO/RPO."""

    run_id: str
    started_at: str
    environment: str
    drill: str
    verdict: Verdict
    rto_s: float | None
    rpo_s: float | None


def load_history(reports_dir: Path, *, drill: str | None = None) -> list[HistoryRow]:
    """Rows for every journal under `reports_dir`, oldest run first; `drill` filters by id."""
    rows: list[HistoryRow] = []
    for path in sorted(reports_dir.glob("*/journal.json")):
        if path.parent.is_symlink():
            continue  # reports/latest points at a run already listed
        rows.extend(_rows(_read(path), drill))
    return sorted(rows, key=lambda r: (r.started_at, r.run_id, r.drill))


def _read(path: Path) -> RunJournal:
    try:
        return RunJournal.from_json(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, KeyError, ValueError) as exc:
        raise ConfigError(
            f"{path} is not a readable journal ({exc}); move it out of the reports directory"
        ) from exc


def _rows(journal: RunJournal, drill: str | None) -> list[HistoryRow]:
    rows = []
    for record in journal.scenarios:
        if drill is not None and record.id != drill:
            continue
        measured = {o.name: o.measured_s for o in record.objectives if o.service == record.service}
        rows.append(
            HistoryRow(
                run_id=journal.run_id,
                started_at=journal.started_at,
                environment=journal.environment,
                drill=record.id,
                verdict=record.verdict,
                rto_s=measured.get(ObjectiveKind.RTO),
                rpo_s=measured.get(ObjectiveKind.RPO),
            )
        )
    return rows


def regressions(rows: list[HistoryRow]) -> list[str]:
    """Drills whose latest run passed before but not now, or whose RTO grew by more than half."""
    latest: dict[str, HistoryRow] = {}
    previous: dict[str, HistoryRow] = {}
    for row in rows:
        if row.drill in latest:
            previous[row.drill] = latest[row.drill]
        latest[row.drill] = row
    found = []
    for name, now in sorted(latest.items()):
        before = previous.get(name)
        if before is None:
            continue
        if before.verdict is Verdict.PASS and now.verdict is not Verdict.PASS:
            found.append(
                f"{name}: {before.verdict} in {before.run_id} -> {now.verdict} in {now.run_id}"
            )
        elif before.rto_s and now.rto_s and now.rto_s > 1.5 * before.rto_s:
            was, now_s = (
                f"{before.rto_s:.1f}s in {before.run_id}",
                f"{now.rto_s:.1f}s in {now.run_id}",
            )
            found.append(f"{name}: RTO {was} -> {now_s}")
    return found
