"""Write `journal.json` (the DESIGN.md contract) as drills finish; a listener, never called.

The writer is a pytest plugin object (it implements `pytest_drills_drill_finished`) and also a
plain `DrillEvents.drill_finished` listener, so it works with or without pytest. The file is
rewritten atomically after every drill, so a run cut short still leaves a valid journal.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from drills.core.journal import DrillRecord, RunJournal
from drills.core.provenance import RunProvenance
from drills.core.secrets import redact

__all__ = ["JournalJsonWriter"]

JOURNAL_NAME = "journal.json"


class JournalJsonWriter:
    """Collect drill records of one run and keep `<report_dir>/journal.json` up to date."""

    def __init__(self, report_dir: Path, *, run_id: str, environment: str, started_at: str) -> None:
        self.path = report_dir / JOURNAL_NAME
        self._journal = RunJournal(run_id, environment, started_at)

    @property
    def journal(self) -> RunJournal:
        """Everything recorded so far."""
        return self._journal

    def set_cluster(
        self, kubernetes_version: str | None, settings: Sequence[Mapping[str, str]]
    ) -> None:
        """Record what the cluster runs and which flags differ from upstream; rewrite the file."""
        cluster: dict[str, Any] = {"settings": [dict(s) for s in settings]}
        if kubernetes_version:
            cluster["kubernetes_version"] = kubernetes_version
        self._journal = replace(self._journal, cluster=cluster)
        self.write()

    def set_provenance(self, provenance: RunProvenance) -> None:
        """Record who ran the run and with what (written with the first drill, not before)."""
        self._journal = replace(self._journal, provenance=provenance)
        if self._journal.scenarios:
            self.write()

    def pytest_drills_drill_finished(self, record: DrillRecord) -> None:
        """Hook implementation: add the record and rewrite the file."""
        self.add(record)

    def add(self, record: DrillRecord) -> None:
        """Add (or replace, by nodeid and id) one drill's record and write the journal."""
        kept = tuple(
            r for r in self._journal.scenarios if (r.id, r.nodeid) != (record.id, record.nodeid)
        )
        self._journal = replace(self._journal, scenarios=(*kept, record))
        self.write()

    def write(self) -> Path:
        """Write the journal atomically (temp file, then rename), its secrets masked."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(redact(self._journal.to_json()) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
        return self.path
