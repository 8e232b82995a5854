"""The errors certification raises; each message says what to do next."""

from __future__ import annotations

from pathlib import Path

from drills.core.errors import DrillError

__all__ = ["AnswersFileError", "CertificationError", "QuizBankError"]


class CertificationError(DrillError):
    """A certification command cannot go on: a bad trainee name, record or request."""


class QuizBankError(CertificationError):
    """The quiz's data file is inconsistent; the message names the fact and the fix."""

    @classmethod
    def in_fact(cls, where: str, problem: str, fix: str) -> QuizBankError:
        """An error about one group or fact of the bank."""
        return cls(f"quiz bank, {where}: {problem}. Fix: {fix}")


class AnswersFileError(CertificationError):
    """An answers file cannot be read or does not fit the quiz it answers."""

    @classmethod
    def at(cls, path: Path, problem: str, fix: str) -> AnswersFileError:
        """An error about one answers file."""
        return cls(f"{path}: {problem}. Fix: {fix}")
