"""conftest.py of the pytester directory: drills there run on a FakeClock."""

from __future__ import annotations

import pytest

from drills import FakeClock


@pytest.fixture(scope="session")
def drill_clock() -> FakeClock:
    return FakeClock()
