"""The incident notice a trainee posts, checked against the communication template.

Fields come from 000_f95d4a4e94796166.txt § Communication Template: INCIDENT, SEVERITY, STATUS,
ETA, IMPACT, ROOT CAUSE, MITIGATION, one `FIELD: value` per line. The names of
004_adcb18f331fabb83.txt § Communication During Incidents are accepted for the same fields
(`ETA Resolution` for ETA, `Affected` for IMPACT). Case, a list dash and markdown bold around
the name do not matter; a value left as the template's `[placeholder]` counts as missing.

Severity: the harness grades on the P0-P3 scale of 001/003 (the scenarios' markers) and reads
the words of 000 on it (CRITICAL = P0, HIGH = P1, MEDIUM = P2, LOW = P3; RUNBOOKS.md §5.2 notes
the scales disagree, so a notice must name exactly the page's level).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["NOTICE_FIELDS", "NoticeCheck", "check_notice", "parse_notice", "severities_named"]

NOTICE_FIELDS = ("incident", "severity", "status", "eta", "impact", "root cause", "mitigation")
_ALIASES = {"eta resolution": "eta", "affected": "impact"}
_LINE = re.compile(r"^\s*(?:[-*]\s+)?\**\s*([A-Za-z][A-Za-z ]*?)\s*\**\s*:\s*\**\s*(.*?)\s*$")
_WORDS = {"CRITICAL": "P0", "HIGH": "P1", "MEDIUM": "P2", "LOW": "P3"}
_SEVERITY = re.compile(r"\b(P[0-4]|CRITICAL|HIGH|MEDIUM|LOW)\b", re.IGNORECASE)


def parse_notice(text: str) -> dict[str, str]:
    """The template fields found in `text` (lower-case names, first occurrence wins)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        name = " ".join(match.group(1).lower().split())
        name = _ALIASES.get(name, name)
        value = match.group(2)
        if name in NOTICE_FIELDS and name not in fields and not _placeholder(value):
            fields[name] = value
    return fields


def _placeholder(value: str) -> bool:
    return not value or bool(re.fullmatch(r"\[[^\]]*\]", value))


def severities_named(value: str) -> frozenset[str]:
    """The P-levels a severity value names: `P1 (HIGH)` → {P1}; `HIGH` → {P1}."""
    return frozenset(_WORDS.get(found.upper(), found.upper()) for found in _SEVERITY.findall(value))


@dataclass(frozen=True)
class NoticeCheck:
    """What is wrong with a notice: missing fields and the severity it states."""

    missing: tuple[str, ...]
    severity_written: str | None
    severity_expected: str

    @property
    def severity_ok(self) -> bool:
        """The notice names exactly the page's severity, on either scale."""
        if self.severity_written is None:
            return False
        return severities_named(self.severity_written) == {self.severity_expected.upper()}

    @property
    def ok(self) -> bool:
        """Every field present and the severity right."""
        return not self.missing and self.severity_ok

    def problems(self) -> list[str]:
        """One sentence per problem, for the grade."""
        found = []
        if self.missing:
            found.append(f"notice lacks {', '.join(f.upper() for f in self.missing)}")
        if self.severity_written is not None and not self.severity_ok:
            found.append(
                f"notice says SEVERITY {self.severity_written!r}, the page was "
                f"{self.severity_expected}"
            )
        return found


def check_notice(text: str, severity: str) -> NoticeCheck:
    """Check `text` against the template and the page's `severity` (e.g. `P1`)."""
    fields = parse_notice(text)
    return NoticeCheck(
        missing=tuple(f for f in NOTICE_FIELDS if f not in fields),
        severity_written=fields.get("severity"),
        severity_expected=severity,
    )
