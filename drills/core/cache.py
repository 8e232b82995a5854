"""Where drills keeps what it builds or fetches once per machine (Go builds, Chromium, Allure)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["cache_root"]


def cache_root(env: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """`$DRILLS_CACHE_DIR`, else `$XDG_CACHE_HOME/drills` (if absolute), else `~/.cache/drills`."""
    env = os.environ if env is None else env
    if env.get("DRILLS_CACHE_DIR"):
        return Path(env["DRILLS_CACHE_DIR"]).expanduser()
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "drills"
    return (home or Path.home()) / ".cache" / "drills"
