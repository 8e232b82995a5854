"""What every end-to-end test shares: no certification practical outlives its test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.certify_cli import abort_left_practical


@pytest.fixture(autouse=True)
def _no_practical_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test of a practical's module: abort a session the test left running.

    A passing test finishes or aborts its own practical; this only acts after a failure, so one
    failed trainee does not make the module's next `certify start` refuse, nor leave a proctor
    working against a sandbox that is about to go.
    """
    root = request.getfixturevalue("project") if "project" in request.fixturenames else None
    yield
    if isinstance(root, Path):
        said = abort_left_practical(root)
        if said:
            print(said)  # noqa: T201 - shown with the failing test's captured output
