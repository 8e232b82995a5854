"""restore_as_found: whatever step a rotation reached, the environment comes back as found."""

from __future__ import annotations

import pytest

from drills.core.clock import FakeClock
from drills.core.errors import ConfigError
from drills.core.rotation import RotationPlan, fingerprint
from drills.core.safety import Replayed
from drills.targets.adapters.rotation_rollbacks import restore_as_found
from tests.rotation_fakes import ORIGINAL_URL, FakeLogins, FakeSecrets

ROLES = ("shop_login_1a", "shop_login_1b")
PLAN = RotationPlan("default", "shop", ROLES, fingerprint(ORIGINAL_URL), "postgresql://admin")
ROTATED = "postgresql://shop_login_1b:pw@10.244.1.1:5432/shop"


def _mid_rotation() -> tuple[FakeSecrets, FakeLogins]:
    """As a kill leaves it at the rollout wait: kept copy, second Secret, Deployment on it."""
    secrets = FakeSecrets(
        secrets={
            "shop-database": "postgresql://shop_login_1a:old@10.244.1.1:5432/shop",
            "shop-database-new": ROTATED,
            "shop-database-drills-kept": ORIGINAL_URL,
        },
        reads_from="shop-database-new",
    )
    return secrets, FakeLogins(roles={ROLES[0]: "old", ROLES[1]: "pw"})


def test_a_rotation_killed_mid_way_is_undone_whole_and_only_once() -> None:
    secrets, logins = _mid_rotation()
    assert restore_as_found(PLAN, secrets, logins, clock=FakeClock()) is Replayed.RESTORED
    assert secrets.secrets == {"shop-database": ORIGINAL_URL}
    assert secrets.reads_from == "shop-database"
    assert secrets.restarts == 1
    assert logins.roles == {}
    assert restore_as_found(PLAN, secrets, logins, clock=FakeClock()) is Replayed.ALREADY
    assert secrets.restarts == 1


def test_roles_left_alone_still_mean_a_restart_before_they_are_dropped() -> None:
    secrets = FakeSecrets(secrets={"shop-database": ORIGINAL_URL})
    logins = FakeLogins(roles={ROLES[0]: "old"})
    assert restore_as_found(PLAN, secrets, logins, clock=FakeClock()) is Replayed.RESTORED
    assert (secrets.restarts, logins.roles) == (1, {})


def test_a_changed_secret_without_its_kept_copy_is_left_for_a_human() -> None:
    secrets = FakeSecrets(secrets={"shop-database": ROTATED})
    with pytest.raises(ConfigError, match="kept copy secret/shop-database-drills-kept is gone"):
        restore_as_found(PLAN, secrets, FakeLogins(), clock=FakeClock())
    assert secrets.secrets == {"shop-database": ROTATED}  # nothing guessed


def test_a_kept_copy_that_no_longer_matches_the_recorded_hash_is_refused() -> None:
    secrets, logins = _mid_rotation()
    secrets.secrets["shop-database-drills-kept"] = "postgresql://someone@else/shop"
    with pytest.raises(ConfigError, match="SHA-256 differs"):
        restore_as_found(PLAN, secrets, logins, clock=FakeClock())
