"""How certification is judged: see `drills.core.certification_settings` (profiles read it)."""

from __future__ import annotations

from drills.core.certification_settings import DEFAULT_SETTINGS, CertificationSettings

__all__ = ["DEFAULT_SETTINGS", "CertificationSettings"]
