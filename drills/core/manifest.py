"""The manifest of a sealed run: every file with its sha256 and size, and how to compare it.

Pure data (stdlib only): reading files, signing and tarballs live in `drills.reporting.seal`.
The manifest's bytes are canonical JSON (sorted keys, files sorted by path), so the signature
over them is the same whoever writes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MANIFEST_FORMAT", "FileDigest", "Manifest", "ManifestDiff", "compare"]

MANIFEST_FORMAT = "drills-evidence-manifest/1"


@dataclass(frozen=True)
class FileDigest:
    """One file of a run: its path relative to the run directory (`/`-separated)."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """What was sealed, by whom, when, and with which key (its sha256 fingerprint)."""

    run_id: str
    sealed_by: str
    sealed_at: str
    key_fingerprint: str
    files: tuple[FileDigest, ...] = ()

    def to_bytes(self) -> bytes:
        """The canonical JSON the signature covers."""
        data = {
            "format": MANIFEST_FORMAT,
            "run_id": self.run_id,
            "sealed_by": self.sealed_by,
            "sealed_at": self.sealed_at,
            "key_fingerprint": self.key_fingerprint,
            "files": [
                {"path": f.path, "sha256": f.sha256, "size": f.size}
                for f in sorted(self.files, key=lambda f: f.path)
            ],
        }
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse manifest.json; raises ValueError when it is not one."""
        try:
            raw: dict[str, Any] = json.loads(data.decode("utf-8"))
            if raw.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format {raw.get('format')!r} is not {MANIFEST_FORMAT!r}")
            files = tuple(
                FileDigest(str(f["path"]), str(f["sha256"]), int(f["size"])) for f in raw["files"]
            )
            return cls(
                run_id=str(raw["run_id"]),
                sealed_by=str(raw["sealed_by"]),
                sealed_at=str(raw["sealed_at"]),
                key_fingerprint=str(raw["key_fingerprint"]),
                files=files,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # JSON, int(), format
            raise ValueError(f"not a drills manifest ({type(exc).__name__}: {exc})") from exc


@dataclass(frozen=True)
class ManifestDiff:
    """How the files on disk differ from the manifest; empty when they match."""

    changed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        """True when no file changed, went missing or was added."""
        return not (self.changed or self.missing or self.added)

    def lines(self) -> list[str]:
        """One line per difference, naming the file."""
        return (
            [f"changed: {p} ({self.details.get(p, '')})" for p in self.changed]
            + [f"missing: {p}" for p in self.missing]
            + [f"added: {p} (not in the manifest)" for p in self.added]
        )


def compare(manifest: Manifest, found: Mapping[str, FileDigest]) -> ManifestDiff:
    """Compare the sealed files with `found` (path -> digest of the file on disk now)."""
    sealed = {f.path: f for f in manifest.files}
    changed, details = [], {}
    for path in sorted(sealed.keys() & found.keys()):
        then, now = sealed[path], found[path]
        if (then.sha256, then.size) != (now.sha256, now.size):
            changed.append(path)
            details[path] = f"sha256 {then.sha256[:12]}… → {now.sha256[:12]}…, {now.size} bytes"
    return ManifestDiff(
        changed=tuple(changed),
        missing=tuple(sorted(sealed.keys() - found.keys())),
        added=tuple(sorted(found.keys() - sealed.keys())),
        details=details,
    )
