"""How certification is judged (a profile's `[certification]` table).

The quiz's pass mark and size and how long a pass stays valid: the seeds ask for a written
assessment and re-certification on a schedule (RUNBOOKS.md §4.1, from `001_dba783835563cb30.txt`
§ Certification Requirements and § Ongoing Training) but give no figures, so those defaults are
the harness's own choice. The practical's response figures: acknowledge within 5 min (RUNBOOKS
§2.3: [003], [004], [000] Level 1), page Level 2 after 15 min and Level 3 after 30 min unresolved
([000] § Escalation Procedure, §2.4), and two harness choices (a page up to a minute after its
mark still counts; a post-mortem's times may be two minutes off, people write them by hand).
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
    counts before it must be earned again (seconds). `escalation_marks_s[i]` is when level
    i + 2 must have been paged if the incident is still unresolved.
    Raises ValueError naming the profile key when a value is out of range.
    """

    quiz_pass_mark: float = 0.8  # harness choice: four in five right (no seed gives a mark)
    quiz_questions: int = 10
    # Harness choice as well: quarterly, like the seeds' restore tests ([000] § Weekly Checks).
    recertify_every_s: float = 90 * _DAY_S
    ack_within_s: float = 300.0
    escalation_marks_s: tuple[float, ...] = (900.0, 1800.0)  # Level 2, Level 3, ...
    escalation_grace_s: float = 60.0
    postmortem_tolerance_s: float = 120.0

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
