"""A whole sandbox in a throw-away project root, for tests that need real pods."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from drills.sandbox import control

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def sandbox_in_temp_root(
    parts: tuple[str, ...] = ("fixtures/shop",),
    *,
    files: Mapping[str, str] | None = None,
    prefix: str = "drills-sandbox-",
) -> Iterator[Path]:
    """Copy `parts` of the repository into a temporary root, bring a sandbox up there, yield it.

    On exit the sandbox goes down, the root is removed, and no sandbox process may be left.
    """
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    root.chmod(0o755)  # the unprivileged PostgreSQL user must traverse it
    for part in parts:
        shutil.copytree(REPO / part, root / part)
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    try:
        control.up(root, timeout_s=90)
        yield root
    finally:
        state = control.down(root)
        shutil.rmtree(root, ignore_errors=True)
        assert state.leftovers == []
