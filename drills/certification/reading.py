"""What an evidence reader returns: the actions, or why there are none."""

from __future__ import annotations

from dataclasses import dataclass

from drills.core.actions import Action

__all__ = ["EvidenceRead"]


@dataclass(frozen=True)
class EvidenceRead:
    """Actions read from one source; `missing` says what the source cannot show, and why.

    `missing` is set when there is no evidence at all (no log) or only part of it (moto's
    request log has no identity and no bodies); steps the grade cannot find on such a source
    are COULD_NOT_VERIFY rather than missing. A source that was read whole but held nothing of
    the trainee has `missing` None and no actions: the trainee did nothing there, which is
    evidence too. `skipped` counts unreadable lines.
    """

    actions: tuple[Action, ...]
    missing: str | None = None
    skipped: int = 0
