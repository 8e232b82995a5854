"""Each run's figures read back from reports/<run-id>/journal.json, one RunFigures per drill.

The journals are the source of truth; `drills.reporting.history_store` keeps what they say in
SQLite so the history outlives pruned run directories and stays quick to read.
"""

from __future__ import annotations

import json
from pathlib import Path

from drills.core.errors import ConfigError
from drills.core.journal import DrillRecord, RunJournal
from drills.core.objectives import ObjectiveKind, ObjectiveResult
from drills.core.trend import RunFigures

__all__ = ["journal_figures", "journal_paths", "read_journal"]


def journal_paths(reports_dir: Path) -> list[Path]:
    """Every reports_dir/<run>/journal.json, by run name; `latest` (a link) is not a second run."""
    if not reports_dir.is_dir():
        return []
    return sorted(p for p in reports_dir.glob("*/journal.json") if not p.parent.is_symlink())


def read_journal(path: Path) -> RunJournal:
    """Parse one journal; raises ConfigError saying what to do with an unreadable one."""
    try:
        return RunJournal.from_json(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not a readable journal ({exc}); move it out of the reports directory"
        ) from exc


def journal_figures(journal: RunJournal) -> list[RunFigures]:
    """One RunFigures per drill of the run: its verdict, RTO/RPO and targets, operator, ticket.

    The environment is the journal's `environment`: the name of the profile the run used.
    """
    return [_figures(journal, record) for record in journal.scenarios]


def _figures(journal: RunJournal, record: DrillRecord) -> RunFigures:
    rto = _objective(record, ObjectiveKind.RTO)
    rpo = _objective(record, ObjectiveKind.RPO)
    return RunFigures(
        environment=journal.environment,
        drill=record.id,
        run_id=journal.run_id,
        started_at=journal.started_at,
        verdict=record.verdict,
        operator=journal.provenance.operator,
        ticket=journal.provenance.ticket,
        rto_s=None if rto is None else rto.measured_s,
        rto_target_s=None if rto is None else rto.target_s,
        rpo_s=None if rpo is None else rpo.measured_s,
        rpo_target_s=None if rpo is None else rpo.target_s,
    )


def _objective(record: DrillRecord, kind: ObjectiveKind) -> ObjectiveResult | None:
    """The drill's own service's objective of `kind`, else the first of that kind."""
    found = [o for o in record.objectives if o.name is kind]
    own = [o for o in found if o.service == record.service]
    return next(iter(own or found), None)
