"""BadSettings (RUNBOOKS.md §3.5 `app-leak`): several env vars as one release, and its rollback."""

from __future__ import annotations

import json

import pytest

from drills.core.errors import ConfigError, InjectionFailed
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.faults.pods import BadSettings
from drills.targets.adapters.kube_rollbacks import register_rollbacks, restore_settings
from tests.fakes import FakeWorkload

LEAK = {"HOLD_CONNECTIONS": "5", "HOLD_AFTER_S": "20"}


def test_every_setting_lands_in_one_revision_and_goes_back_the_same_way() -> None:
    shop = FakeWorkload(env={"POOL_SIZE": "5", "HOLD_AFTER_S": "1"})
    fault = BadSettings(shop, LEAK)
    entry = fault.rollback_entry()
    assert (entry.kind, entry.target) == ("bad-settings", "default/deployment/shop")
    assert json.loads(str(entry.args["previous"])) == {
        "HOLD_CONNECTIONS": None,
        "HOLD_AFTER_S": "1",
    }
    fault.apply()
    assert len(shop.revisions) == 2  # one rollout, so one `rollout undo` takes it all back
    assert shop.env == {"POOL_SIZE": "5", **LEAK}
    fault.rollback()
    fault.rollback()  # idempotent
    assert shop.env == {"POOL_SIZE": "5", "HOLD_AFTER_S": "1"}
    assert len(shop.revisions) == 3


def test_a_release_already_rolled_back_leaves_the_rollback_nothing_to_do() -> None:
    shop = FakeWorkload()
    fault = BadSettings(shop, LEAK)
    fault.rollback_entry()
    fault.apply()
    shop.env = {}  # `kubectl rollout undo` restored the template
    fault.rollback()
    assert len(shop.revisions) == 2


def test_settings_already_in_place_are_no_fault() -> None:
    fault = BadSettings(FakeWorkload(env=dict(LEAK)), LEAK)
    fault.rollback_entry()
    with pytest.raises(InjectionFailed, match="already sets HOLD_CONNECTIONS=5 HOLD_AFTER_S=20"):
        fault.apply()
    with pytest.raises(InjectionFailed, match="no setting"):
        BadSettings(FakeWorkload(), {}).apply()


def _entry(previous: str) -> RollbackEntry:
    return RollbackEntry("bad-settings", "default/deployment/shop", {"previous": previous})


def test_the_replay_puts_every_value_back_once() -> None:
    shop = FakeWorkload(env={"POOL_SIZE": "5", **LEAK})
    entry = _entry(json.dumps({"HOLD_CONNECTIONS": None, "HOLD_AFTER_S": None}))
    assert restore_settings(entry, workload=shop) is Replayed.RESTORED
    assert restore_settings(entry, workload=shop) is Replayed.ALREADY
    assert shop.env == {"POOL_SIZE": "5"}


def test_the_replay_refuses_an_entry_without_variables() -> None:
    for previous in ("", "{}", "[1]", "not json"):
        with pytest.raises(ConfigError, match="records no variables"):
            restore_settings(_entry(previous), workload=FakeWorkload())


def test_drills_rollback_knows_the_kind() -> None:
    registry = RollbackRegistry()
    register_rollbacks(registry)
    assert "bad-settings" in registry.kinds()
