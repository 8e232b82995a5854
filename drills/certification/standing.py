"""What a trainee is certified for, what is missing, and when re-certification is due.

The required set is RUNBOOKS.md §4.1 (from `001_dba783835563cb30.txt` § Certification
Requirements and § New Team Member Onboarding): the P0 emergency procedures, the troubleshooting
scenarios, the written assessment (the quiz) and shadowing experienced responders (a sign-off,
since it cannot be graded). A requirement is met by its latest PASS; a PASS older than the
profile's `recertify_every` no longer counts, except a sign-off, which does not expire.
`region-failover`, which §4.1 also lists for staging, is a human drill the harness cannot run yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from drills.certification.record import QUIZ_ID, SHADOW_ID, GradeRecord, RecordKind
from drills.certification.settings import CertificationSettings

__all__ = ["REQUIRED", "Requirement", "RequirementStanding", "Standing", "Status", "standing"]

P0 = "P0 emergency procedures"
TROUBLESHOOTING = "troubleshooting scenarios"


class Status(StrEnum):
    """Where a trainee stands on one requirement."""

    CERTIFIED = "certified"
    EXPIRED = "re-certification due"
    MISSING = "missing"


@dataclass(frozen=True)
class Requirement:
    """One line of the required set: a passed practical, the quiz or a sign-off.

    `variants` lists the variants that count (empty: any); `expires` says whether the PASS must
    be earned again every `recertify_every`.
    """

    id: str
    kind: RecordKind
    area: str
    variants: tuple[str, ...] = ()
    expires: bool = True

    def accepts(self, record: GradeRecord) -> bool:
        """True for a PASS of this drill (in a variant that counts)."""
        return (
            record.passed
            and record.kind is self.kind
            and record.drill_id == self.id
            and (not self.variants or record.variant in self.variants)
        )

    def label(self) -> str:
        """The id, with the variants that count when only some do."""
        if not self.variants:
            return self.id
        return f"{self.id} ({' or '.join(self.variants)})"


def _practicals(area: str, *ids: str) -> tuple[Requirement, ...]:
    return tuple(Requirement(i, RecordKind.PRACTICAL, area) for i in ids)


# RUNBOOKS.md §4.1, "Proficiency with P0 emergency procedures" and "Complete troubleshooting
# scenarios", then "Written assessment" and "Shadow experienced responders".
REQUIRED: tuple[Requirement, ...] = (
    Requirement("pod-kill-under-load", RecordKind.PRACTICAL, P0, ("all", "deployment-deleted")),
    # §3.6 `data-loss-inplace` is the procedure of every snapshot-restore variant: any counts.
    Requirement("snapshot-restore", RecordKind.PRACTICAL, P0, ("drop-table", "delete-rows")),
    *_practicals(P0, "pitr", "ingress-unreachable"),
    *_practicals(
        TROUBLESHOOTING,
        "crashloop-rollback",
        "oom-memory-leak",
        "db-connection-failure",
        "db-pool-exhaustion",
        "high-cpu-latency",
        "error-rate-rollback",
    ),
    Requirement(QUIZ_ID, RecordKind.QUIZ, "written assessment"),
    Requirement(SHADOW_ID, RecordKind.SIGNOFF, "shadow experienced responders", expires=False),
)


@dataclass(frozen=True)
class RequirementStanding:
    """One requirement: its status, the PASS that meets it, when that PASS runs out."""

    requirement: Requirement
    status: Status
    passed: GradeRecord | None = None
    due_at: datetime | None = None
    last_attempt: GradeRecord | None = None


@dataclass(frozen=True)
class Standing:
    """A trainee against the required set, plus passes outside it."""

    trainee: str
    rows: tuple[RequirementStanding, ...]
    others: tuple[GradeRecord, ...] = ()

    @property
    def certified(self) -> bool:
        """Every requirement met and none due."""
        return all(row.status is Status.CERTIFIED for row in self.rows)

    def missing(self) -> tuple[RequirementStanding, ...]:
        """The requirements not met now (missing or due again)."""
        return tuple(row for row in self.rows if row.status is not Status.CERTIFIED)

    @property
    def next_due(self) -> datetime | None:
        """The earliest date a met requirement must be earned again (None: nothing expires)."""
        dues = [row.due_at for row in self.rows if row.due_at and row.status is Status.CERTIFIED]
        return min(dues, default=None)


def standing(
    trainee: str,
    records: Sequence[GradeRecord],
    *,
    settings: CertificationSettings,
    now: datetime,
) -> Standing:
    """Judge `records` (any order) against REQUIRED at `now` (timezone-aware)."""
    ordered = sorted(records, key=lambda r: (r.recorded_at, r.run_id))
    every = timedelta(seconds=settings.recertify_every_s)
    rows = tuple(_row(req, ordered, every, now) for req in REQUIRED)
    counted = [r for r in ordered if any(req.accepts(r) for req in REQUIRED)]
    others = _latest_passes(r for r in ordered if r.passed and r not in counted)
    return Standing(trainee, rows, others)


def _row(
    requirement: Requirement, ordered: Sequence[GradeRecord], every: timedelta, now: datetime
) -> RequirementStanding:
    attempts = [r for r in ordered if r.kind is requirement.kind and r.drill_id == requirement.id]
    passes = [r for r in attempts if requirement.accepts(r)]
    last = attempts[-1] if attempts else None
    if not passes:
        return RequirementStanding(requirement, Status.MISSING, last_attempt=last)
    passed = passes[-1]
    due = passed.recorded_at + every if requirement.expires else None
    status = Status.EXPIRED if due is not None and due <= now else Status.CERTIFIED
    return RequirementStanding(requirement, status, passed, due, last)


def _latest_passes(records: Iterable[GradeRecord]) -> tuple[GradeRecord, ...]:
    latest: dict[tuple[RecordKind, str], GradeRecord] = {}
    for record in records:
        latest[(record.kind, record.drill_id)] = record  # oldest first: the last one wins
    return tuple(sorted(latest.values(), key=lambda r: (r.kind, r.drill_id)))
