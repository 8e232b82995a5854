"""One certification record: who, what (a practical, the quiz, a sign-off), verdict, payload.

A record is what `reports/certification/<trainee>/<run-id>/grade.json` holds. The payload is
plain JSON chosen by whoever grades: the quiz puts its questions and answers there, a practical
its criteria and timeline (see drills/certification/templates/grade.html.j2 for the keys the
page shows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias

from drills.certification.errors import CertificationError
from drills.core.objectives import Verdict

__all__ = [
    "QUIZ_ID",
    "SHADOW_ID",
    "TRAINEE_PATTERN",
    "GradeRecord",
    "JsonObject",
    "JsonValue",
    "RecordKind",
    "validate_trainee",
]

JsonValue: TypeAlias = (
    str | int | float | bool | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None
)
JsonObject: TypeAlias = Mapping[str, JsonValue]

# Lower case, so a name is one directory on any filesystem, fits a certificate CN and a database
# role (`trainee_<name>`), and `Alice` and `alice` cannot hold two records.
TRAINEE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_DRILL_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")  # names a directory: no `/`, no `..`
QUIZ_ID = "quiz"
SHADOW_ID = "shadow-responders"  # RUNBOOKS.md §4.1: shadowing is signed off, not graded


class RecordKind(StrEnum):
    """What earned the record."""

    PRACTICAL = "practical"
    QUIZ = "quiz"
    SIGNOFF = "signoff"


def validate_trainee(name: str) -> str:
    """Return `name` if it is a valid trainee name, else raise CertificationError saying why."""
    if not TRAINEE_PATTERN.match(name):
        raise CertificationError(
            f"trainee name {name!r} is not allowed: use 1 to 32 characters, a lower-case "
            "letter first, then lower-case letters, digits, '-' or '_' "
            f"(pattern {TRAINEE_PATTERN.pattern})"
        )
    return name


@dataclass(frozen=True)
class GradeRecord:
    """A graded attempt or a sign-off, as grade.json stores it.

    `recorded_at` is timezone-aware wall time (the caller's `clock.wall()`); `run_id` is empty
    until `write_record` gives the record its directory.
    """

    trainee: str
    kind: RecordKind
    drill_id: str
    verdict: Verdict
    recorded_at: datetime
    variant: str = ""
    environment: str = ""
    payload: JsonObject = field(default_factory=dict)
    run_id: str = ""

    def __post_init__(self) -> None:
        validate_trainee(self.trainee)
        if self.recorded_at.tzinfo is None:
            raise CertificationError(
                "recorded_at must be timezone-aware; pass clock.wall(), which is UTC"
            )
        if not _DRILL_ID.match(self.drill_id):
            raise CertificationError(
                f"drill id {self.drill_id!r} is not allowed: use a drill's kebab-case id "
                "(e.g. 'pitr', 'crashloop-rollback') or 'quiz'"
            )

    @property
    def passed(self) -> bool:
        """Only PASS passes."""
        return self.verdict is Verdict.PASS

    def to_json(self) -> dict[str, JsonValue]:
        """The grade.json document."""
        return {
            "schema": 1,
            "trainee": self.trainee,
            "run_id": self.run_id,
            "kind": self.kind.value,
            "drill_id": self.drill_id,
            "variant": self.variant,
            "verdict": self.verdict.value,
            "recorded_at": self.recorded_at.isoformat(),
            "environment": self.environment,
            "payload": self.payload,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> GradeRecord:
        """Read a grade.json document; raises CertificationError naming what is wrong."""
        try:
            payload = data.get("payload", {})
            if not isinstance(payload, dict):
                raise ValueError("payload is not an object")
            return cls(
                trainee=_text(data, "trainee"),
                kind=RecordKind(_text(data, "kind")),
                drill_id=_text(data, "drill_id"),
                verdict=Verdict(_text(data, "verdict")),
                recorded_at=datetime.fromisoformat(_text(data, "recorded_at")),
                variant=_text(data, "variant"),
                environment=_text(data, "environment"),
                payload=payload,
                run_id=_text(data, "run_id"),
            )
        except (KeyError, ValueError) as exc:
            raise CertificationError(f"not a grade record: {exc}") from exc


def _text(data: Mapping[str, object], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} is not text")
    return value
