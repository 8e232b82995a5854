"""Who ran a drill run, with what, against what: the provenance an auditor asks for first.

Pure data (stdlib only). The facts are gathered at the edges (`drills.reporting.provenance`:
git, host, package versions; the plugin's `drill_endpoints`: Kubernetes and PostgreSQL) and
recorded in journal.json under `provenance`. Every field has a default, so journals written
before provenance existed still load; an unknown fact stays empty and reads "unknown".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["NOT_A_GIT_REPOSITORY", "UNKNOWN", "RunProvenance", "sha256_hex"]

NOT_A_GIT_REPOSITORY = "not a git repository"
UNKNOWN = "unknown"


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of `data` as 64 lower-case hex digits."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RunProvenance:
    """The people, versions and places behind one run; empty strings are unknown facts.

    `git_commit` is the commit of the project root the scenarios came from, or
    NOT_A_GIT_REPOSITORY; `git_dirty` is None when there is no commit to compare with.
    """

    operator: str = ""
    approved_by: str = ""
    ticket: str = ""
    drills_version: str = ""
    git_commit: str = ""
    git_dirty: bool | None = None
    profile_path: str = ""
    profile_sha256: str = ""
    kubernetes_version: str = ""
    postgresql_version: str = ""
    locust_version: str = ""
    host: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict (every field, unknown ones empty)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunProvenance:
        """Rebuild from journal.json (unknown keys are ignored, missing ones default)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def git_text(self) -> str:
        """The commit as a person reads it: `abc123 (dirty)`, `not a git repository`, `unknown`."""
        if not self.git_commit:
            return UNKNOWN
        if self.git_dirty is None:
            return self.git_commit
        return f"{self.git_commit} ({'dirty' if self.git_dirty else 'clean'})"

    def rows(self) -> tuple[tuple[str, str], ...]:
        """(label, value) pairs for a report header, in reading order; unknown values say so."""
        pairs = (
            ("Operator", self.operator),
            ("Approved by", self.approved_by or "not recorded"),
            ("Ticket", self.ticket or "not recorded"),
            ("drills", self.drills_version),
            ("Git commit", self.git_text),
            ("Profile", self.profile_path),
            ("Profile sha256", self.profile_sha256),
            ("Kubernetes", self.kubernetes_version),
            ("PostgreSQL", self.postgresql_version),
            ("Locust", self.locust_version),
            ("Host", self.host),
        )
        return tuple((label, value or UNKNOWN) for label, value in pairs)
