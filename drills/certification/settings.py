"""How certification is judged: the quiz's pass mark and size, and how long a pass stays valid.

The seeds ask for a written assessment and re-certification on a schedule (RUNBOOKS.md §4.1, from
`001_dba783835563cb30.txt` § Certification Requirements and § Ongoing Training) but give no
figures, so the defaults below are the harness's own choice. A profile will set them in its
`[certification]` table (`quiz_pass_mark`, `quiz_questions`, `recertify_every`).
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.core.durations import format_duration

__all__ = ["DEFAULT_SETTINGS", "CertificationSettings"]

_DAY_S = 86400.0


@dataclass(frozen=True)
class CertificationSettings:
    """The figures certification is judged with.

    `quiz_pass_mark` is the share of right answers that passes (0 < mark <= 1);
    `quiz_questions` how many questions a quiz asks; `recertify_every_s` how long a PASS
    counts before it must be earned again (seconds).
    Raises ValueError naming the profile key when a value is out of range.
    """

    quiz_pass_mark: float = 0.8  # harness choice: four in five right (no seed gives a mark)
    quiz_questions: int = 10
    # Harness choice as well: quarterly, like the seeds' restore tests ([000] § Weekly Checks).
    recertify_every_s: float = 90 * _DAY_S

    def __post_init__(self) -> None:
        if not 0 < self.quiz_pass_mark <= 1:
            raise ValueError(
                f"[certification] quiz_pass_mark must be above 0 and at most 1, not "
                f"{self.quiz_pass_mark}; write e.g. 0.8 for four in five right"
            )
        if self.quiz_questions < 1:
            raise ValueError(
                f"[certification] quiz_questions must be at least 1, not {self.quiz_questions}"
            )
        if self.recertify_every_s <= 0:
            raise ValueError(
                "[certification] recertify_every must be a positive duration, e.g. '90d', not "
                f"{format_duration(self.recertify_every_s)}"
            )


DEFAULT_SETTINGS = CertificationSettings()
