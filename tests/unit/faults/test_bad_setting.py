"""BadSetting and MissingSecretKey: a release with one wrong setting, and its rollback."""

from __future__ import annotations

import pytest

from drills.core.errors import InjectionFailed
from drills.faults.pods import BadSetting, MissingSecretKey
from tests.fakes import FakeWorkload


def test_the_setting_is_rolled_out_and_put_back() -> None:
    shop = FakeWorkload(env={"APP_VERSION": "1.0.0"})
    before = len(shop.revisions)
    fault = BadSetting(shop, "APP_VERSION", "bad")
    entry = fault.rollback_entry()
    assert dict(entry.args) == {"name": "APP_VERSION", "previous": "1.0.0"}
    fault.apply()
    assert shop.container_env("APP_VERSION") == "bad"
    fault.rollback()
    fault.rollback()  # idempotent: nothing left to do
    assert shop.container_env("APP_VERSION") == "1.0.0"
    assert len(shop.revisions) == before + 2  # one rollout for the fault, one for its rollback


def test_a_variable_that_was_not_set_is_removed_again() -> None:
    shop = FakeWorkload()
    fault = BadSetting(shop, "BROKEN_BUILD", "1")
    fault.rollback_entry()
    fault.apply()
    fault.rollback()
    assert shop.container_env("BROKEN_BUILD") is None


def test_a_recovery_by_hand_leaves_nothing_for_the_rollback() -> None:
    shop = FakeWorkload(env={"APP_VERSION": "1.0.0"})
    fault = BadSetting(shop, "APP_VERSION", "bad")
    fault.rollback_entry()
    fault.apply()
    shop.set_env("APP_VERSION", "1.0.0")  # the trainee fixed it
    rollouts = len(shop.revisions)
    fault.rollback()
    assert len(shop.revisions) == rollouts


def test_a_setting_already_in_place_is_not_a_fault() -> None:
    shop = FakeWorkload(env={"APP_VERSION": "bad"})
    fault = BadSetting(shop, "APP_VERSION", "bad")
    fault.rollback_entry()
    with pytest.raises(InjectionFailed, match="already sets APP_VERSION=bad"):
        fault.apply()


def test_a_missing_secret_key_is_rolled_out_and_put_back() -> None:
    shop = FakeWorkload(secret_keys={"DATABASE_URL": "url"})
    fault = MissingSecretKey(shop, "DATABASE_URL", "url-rotated")
    assert dict(fault.rollback_entry().args) == {"name": "DATABASE_URL", "key": "url"}
    fault.apply()
    assert shop.container_secret_key("DATABASE_URL") == "url-rotated"
    fault.rollback()
    fault.rollback()
    assert shop.container_secret_key("DATABASE_URL") == "url"


def test_a_variable_not_read_from_a_secret_is_no_fault() -> None:
    fault = MissingSecretKey(FakeWorkload(), "DATABASE_URL", "url-rotated")
    fault.rollback_entry()
    with pytest.raises(InjectionFailed, match="not read from a Secret"):
        fault.apply()
