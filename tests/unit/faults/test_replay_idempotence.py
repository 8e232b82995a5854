"""Each replayer acts at most once: replayed twice, after a partial rollback or a hand repair."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from drills.core.clock import FakeClock
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.faults.data import register_data_rollback
from drills.faults.pool import register_pool_rollback
from drills.load.spike_rollback import register_rollbacks as register_spike
from drills.targets.adapters.data_rollbacks import nothing_to_undo
from drills.targets.adapters.kube_rollbacks import (
    restore_hpa,
    restore_image,
    restore_replicas,
    restore_secret_key,
    restore_setting,
)
from drills.targets.adapters.reinstate import Reinstated, ReinstatePlan, reinstate
from tests.fakes import FakeWorkload
from tests.unit.faults.test_delete_hpa import MANIFEST, FakeHpa
from tests.unit.recovery.test_repoint import FakeConfig
from tests.unit.targets.test_reinstate import FakeServer, _plan

TARGET = "default/deployment/shop"


# -- the Deployment kinds ---------------------------------------------------------------------
def test_bad_release_replayed_twice_rolls_out_once() -> None:
    shop = FakeWorkload(image="shop:bad")
    entry = RollbackEntry("bad-release", TARGET, {"image": "shop:1.0"})
    assert restore_image(entry, workload=shop) is Replayed.RESTORED
    assert restore_image(entry, workload=shop) is Replayed.ALREADY
    assert shop.revisions == ["shop:bad", "shop:1.0"]


def test_bad_release_undone_by_hand_is_left_alone() -> None:
    shop = FakeWorkload(image="shop:1.0")  # `kubectl rollout undo` by the operator
    entry = RollbackEntry("bad-release", TARGET, {"image": "shop:1.0"})
    assert restore_image(entry, workload=shop) is Replayed.ALREADY
    assert shop.revisions == ["shop:1.0"]


@pytest.mark.parametrize("previous", ["20", None])
def test_bad_setting_replayed_twice_changes_the_env_once(previous: str | None) -> None:
    shop = FakeWorkload(env={"POOL_SIZE": "0"})
    entry = RollbackEntry("bad-setting", TARGET, {"name": "POOL_SIZE", "previous": previous})
    assert restore_setting(entry, workload=shop) is Replayed.RESTORED
    assert restore_setting(entry, workload=shop) is Replayed.ALREADY
    assert shop.container_env("POOL_SIZE") == previous
    assert len(shop.revisions) == 2  # the first image, then one change


def test_missing_secret_key_repaired_by_hand_is_left_alone() -> None:
    shop = FakeWorkload(secret_keys={"DATABASE_URL": "url"})
    entry = RollbackEntry("missing-secret-key", TARGET, {"name": "DATABASE_URL", "key": "url"})
    assert restore_secret_key(entry, workload=shop) is Replayed.ALREADY
    shop.secret_keys["DATABASE_URL"] = "nope"
    assert restore_secret_key(entry, workload=shop) is Replayed.RESTORED
    assert restore_secret_key(entry, workload=shop) is Replayed.ALREADY
    assert len(shop.revisions) == 2


class CountingScale(FakeWorkload):
    scaled: list[int]

    def scale(self, replicas: int) -> None:
        self.scaled = [*getattr(self, "scaled", []), replicas]
        super().scale(replicas)


@pytest.mark.parametrize("kind", ["scale-to", "kill-pods"])
def test_replicas_replayed_twice_scale_once(kind: str) -> None:
    shop = CountingScale(replicas=0)
    entry = RollbackEntry(kind, TARGET, {"replicas": 3})
    assert restore_replicas(entry, workload=shop) is Replayed.RESTORED
    assert restore_replicas(entry, workload=shop) is Replayed.ALREADY
    assert shop.scaled == [3]


# -- the HPA ----------------------------------------------------------------------------------
def _hpa_entry() -> RollbackEntry:
    return RollbackEntry("delete-hpa", "default/hpa/shop", {"manifest": json.dumps(MANIFEST)})


def test_delete_hpa_replayed_twice_recreates_once() -> None:
    hpa = FakeHpa(stored=None)
    assert restore_hpa(_hpa_entry(), hpa=hpa) is Replayed.RESTORED
    assert restore_hpa(_hpa_entry(), hpa=hpa) is Replayed.ALREADY
    assert hpa.calls == ["restore"]


def test_delete_hpa_reapplied_by_hand_with_the_same_spec_is_already_in_place() -> None:
    hpa = FakeHpa()  # `kubectl apply -f hpa.yaml` by the operator
    assert restore_hpa(_hpa_entry(), hpa=hpa) is Replayed.ALREADY
    assert hpa.calls == []


def test_delete_hpa_reapplied_with_another_spec_gets_the_recorded_one() -> None:
    hpa = FakeHpa()
    assert hpa.stored is not None
    hpa.stored["spec"] = {**MANIFEST["spec"], "maxReplicas": 4}  # type: ignore[dict-item]
    assert restore_hpa(_hpa_entry(), hpa=hpa) is Replayed.RESTORED
    assert hpa.manifest() == MANIFEST


# -- load, pool, data -------------------------------------------------------------------------
def test_load_spike_with_no_locust_left_does_nothing(tmp_path: Path) -> None:
    registry = RollbackRegistry()
    register_spike(registry)
    entry = RollbackEntry("load-spike", "shop", {"locust_pids": "999999999"})  # long gone
    assert registry.run(entry) is Replayed.ALREADY


class FakeAdmin:
    def __init__(self, tagged: list[int]) -> None:
        self.tagged = tagged

    def terminate_application(self, application_name: str) -> list[int]:
        ended, self.tagged = self.tagged, []
        return ended


def test_pool_exhaustion_replayed_twice_terminates_once() -> None:
    admin = FakeAdmin([41, 42])
    registry = RollbackRegistry()
    register_pool_rollback(registry, lambda target: admin)  # type: ignore[arg-type, return-value]
    entry = RollbackEntry("db-pool-exhaustion", "shop", {"application_name": "drills-leak"})
    assert registry.run(entry) is Replayed.RESTORED
    assert registry.run(entry) is Replayed.ALREADY  # the server restarted, or a replay before


def test_destroyed_data_needs_no_action() -> None:
    registry = RollbackRegistry()
    register_data_rollback(registry)
    entry = RollbackEntry("data-destroyed", "shop")
    assert registry.run(entry) is Replayed.ALREADY
    assert nothing_to_undo(entry) is Replayed.ALREADY


# -- data-reinstate: the refill is not repeated -----------------------------------------------
def _reinstate(
    tmp_path: Path, primary: FakeServer, restored: FakeServer, config: FakeConfig
) -> tuple[ReinstatePlan, Callable[[], Reinstated]]:
    dump = tmp_path / "dump.pgc"
    dump.write_bytes(b"PGDMP")
    plan = _plan(tmp_path, str(dump))

    def run() -> Reinstated:
        return reinstate(
            plan,
            primary=primary,  # type: ignore[arg-type]
            restored=restored,  # type: ignore[arg-type]
            config=config,
            clock=config.clock,
        )

    return plan, run


def test_reinstate_replayed_after_it_finished_does_nothing(tmp_path: Path) -> None:
    primary, restored = FakeServer(), FakeServer()
    config = FakeConfig(FakeClock(), url="postgresql://app@127.0.0.1:6000/shop")
    _, run = _reinstate(tmp_path, primary, restored, config)
    assert run().did_anything
    again = run()  # the replay after a crash before `done`
    assert not again.did_anything
    # the table check, one refill and one put-back of the drained rows; the replay repeats none
    assert [tool for tool, _ in primary.tools] == ["psql", "pg_restore", "psql"]
    assert len(config.restarts) == 1


def test_reinstate_after_a_partial_rollback_finishes_without_refilling_again(
    tmp_path: Path,
) -> None:
    primary, restored = FakeServer(), FakeServer()
    config = FakeConfig(FakeClock(), url="postgresql://app@127.0.0.1:6000/shop")
    plan, run = _reinstate(tmp_path, primary, restored, config)
    plan.refilled_marker().write_text("restored instance restored-x\n")  # step 1 done, then killed
    config.url = plan.primary_url  # step 2 done too; step 3 (remove) never ran
    done = run()
    assert primary.tools == []  # no pg_restore of the snapshot dump over the refilled primary
    assert done.removed
    assert done.did_anything
    assert restored.state == "absent"
