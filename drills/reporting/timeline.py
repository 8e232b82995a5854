"""Collect timeline samples per drill from DrillEvents and store them beside the journal."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from drills.core.events import DrillEvents, DrillStarted
from drills.core.journal import Sample
from drills.core.secrets import redact

__all__ = ["TimelineCollector", "load_timelines"]


class TimelineCollector:
    """Listens to `samples_recorded` and groups samples under the drill that is running."""

    def __init__(self) -> None:
        self.by_drill: dict[str, list[Sample]] = defaultdict(list)
        self._current = ""

    def attach(self, events: DrillEvents) -> None:
        """Subscribe to the events this collector needs."""
        events.drill_started.add_listener(self._started)
        events.samples_recorded.add_listener(self._samples)

    def _started(self, started: DrillStarted) -> None:
        self._current = started.id

    def _samples(self, batch: tuple[Sample, ...]) -> None:
        self.by_drill[self._current].extend(batch)

    def write(self, path: Path) -> Path:
        """Write `{drill id: [[series, offset_s, value], ...]}` as JSON."""
        data = {
            drill: [[s.series, round(s.offset_s, 4), s.value] for s in samples]
            for drill, samples in self.by_drill.items()
        }
        path.write_text(redact(json.dumps(data, separators=(",", ":"))))
        return path


def load_timelines(path: Path) -> Mapping[str, Sequence[Sample]]:
    """Read what `TimelineCollector.write` wrote; a missing file means no samples."""
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {
        drill: [Sample(str(s), float(o), float(v)) for s, o, v in points]
        for drill, points in raw.items()
    }
