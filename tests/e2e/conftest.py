"""What every end-to-end test shares: one sandbox for the drill and practical modules, no
practical left.

Bringing a sandbox up and down costs about 40 s; the drill modules and the certification
practicals' modules (`drill_project`) share one, and each proves it leaves that sandbox as it
found it: at the module's end the sandbox's fingerprint (tests/e2e/crash_matrix.py: Kubernetes
objects, sessions, servers, processes, mounts, interfaces, pending rollbacks; rows aside, since
defect tests delete some on purpose) must match the one taken at its start. A module that leaves
something fails with what it left, and the next module gets a fresh sandbox, so one leftover
never fails a module that did not cause it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.certify_cli import abort_left_practical
from tests.e2e.crash_matrix import fingerprint, pending_entries, wait_restored
from tests.e2e.drill_cli import sandboxed_project


class SharedSandbox:
    """One sandboxed project for many modules, replaced when a module leaves it dirty."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self.root: Path | None = None

    def get(self) -> Path:
        """The shared root, its sandbox up (brought up on first use)."""
        if self.root is None:
            self.root = self._stack.enter_context(sandboxed_project("drills-e2e-shared-"))
        return self.root

    def discard(self) -> None:
        """Tear the sandbox down (it asserts nothing is left); the next get() starts anew."""
        self.root = None
        self._stack.close()


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[SharedSandbox]:
    shared = SharedSandbox()
    try:
        yield shared
    finally:
        shared.discard()


def _last_user(request: pytest.FixtureRequest) -> bool:
    """True when no test after this module's uses the shared sandbox."""
    users = [i for i in request.session.items if "drill_project" in getattr(i, "fixturenames", ())]
    return bool(users) and users[-1].nodeid.split("::")[0] == request.node.nodeid.split("::")[0]


@pytest.fixture(scope="module")
def drill_project(request: pytest.FixtureRequest, shared_sandbox: SharedSandbox) -> Iterator[Path]:
    """The shared sandboxed project; the module must leave it as it found it.

    After the last module that uses it, the sandbox goes down at once rather than at the end of
    the session, so it does not run beside the tests that follow.
    """
    root = shared_sandbox.get()
    before = fingerprint(root, 0)
    yield root
    left = wait_restored(root, before, 0)
    pending = pending_entries(root)
    if _last_user(request) or left or pending:
        shared_sandbox.discard()
    if left or pending:
        pytest.fail(
            f"this module left the shared sandbox changed ({pending} rollback(s) pending): "
            + "; ".join(left),
            pytrace=False,
        )


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
