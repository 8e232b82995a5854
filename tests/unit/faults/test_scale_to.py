"""ScaleTo: the Deployment scaled to 0 by mistake (RUNBOOKS.md §3.2 `zero`), and its replay."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from drills.core.errors import ConfigError, InjectionFailed, SafetyViolation
from drills.core.safety import BlastRadius, RollbackEntry, RollbackRegistry
from drills.faults.pods import ScaleTo
from drills.targets.adapters import kube_rollbacks
from drills.targets.adapters.kube_rollbacks import register_rollbacks, restore_replicas
from tests.fakes import FakeWorkload

ALL = BlastRadius(max_fraction=1.0)


@dataclass
class CountingWorkload(FakeWorkload):
    """A FakeWorkload that remembers every scale call."""

    scaled: list[int] = field(default_factory=list)

    def scale(self, replicas: int) -> None:
        self.scaled.append(replicas)
        super().scale(replicas)


def test_scaling_to_zero_is_rolled_back_to_the_replicas_read_before() -> None:
    shop = CountingWorkload(replicas=3)
    fault = ScaleTo(shop, 0, blast_radius=ALL)
    entry = fault.rollback_entry()
    assert (entry.kind, entry.target, dict(entry.args)) == (
        "scale-to",
        "default/deployment/shop",
        {"replicas": 3},
    )
    fault.apply()
    assert shop.desired_replicas() == 0
    fault.rollback()
    fault.rollback()  # idempotent: nothing left to do
    assert shop.scaled == [0, 3]


def test_the_blast_radius_caps_the_replicas_taken_away() -> None:
    shop = CountingWorkload(replicas=3)
    fault = ScaleTo(shop, 0, blast_radius=BlastRadius(max_fraction=0.5))
    fault.rollback_entry()
    with pytest.raises(SafetyViolation, match="touch 3 replicas but the blast radius allows 1"):
        fault.apply()
    assert shop.scaled == []


def test_scaling_up_takes_nothing_away_so_the_cap_does_not_apply() -> None:
    shop = CountingWorkload(replicas=3)
    fault = ScaleTo(shop, 10, blast_radius=BlastRadius(max_fraction=0.1))
    fault.rollback_entry()
    fault.apply()
    fault.rollback()
    assert shop.scaled == [10, 3]


def test_a_recovery_by_hand_leaves_nothing_for_the_rollback() -> None:
    shop = CountingWorkload(replicas=3)
    fault = ScaleTo(shop, 0, blast_radius=ALL)
    fault.rollback_entry()
    fault.apply()
    shop.scale(3)  # the trainee ran `kubectl scale --replicas=3`
    fault.rollback()
    assert shop.scaled == [0, 3]


def test_a_count_already_in_place_is_not_a_fault() -> None:
    shop = FakeWorkload(replicas=0, pod_list=[])
    fault = ScaleTo(shop, 0, blast_radius=ALL)
    fault.rollback_entry()
    with pytest.raises(InjectionFailed, match="already runs 0 replicas"):
        fault.apply()


def _bound(replicas: object) -> RollbackEntry:
    args = {"replicas": replicas, "kubeconfig": "/k", "context": "drills-sandbox"}
    return RollbackEntry("scale-to", "default/deployment/shop", args)  # type: ignore[arg-type]


def test_the_replay_scales_back_only_when_the_count_differs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop = CountingWorkload(replicas=0, pod_list=[])
    monkeypatch.setattr(kube_rollbacks, "_workload", lambda entry, by_hand="": shop)
    restore_replicas(_bound(3))
    restore_replicas(_bound(3))  # replayed twice: the second finds 3 and does nothing
    assert shop.scaled == [3]


@pytest.mark.parametrize("replicas", [None, "3", -1, True])
def test_an_entry_without_a_replica_count_is_refused(replicas: object) -> None:
    with pytest.raises(ConfigError, match="records no replica count"):
        restore_replicas(_bound(replicas))


def test_an_entry_without_its_cluster_says_how_to_scale_back_by_hand() -> None:
    entry = RollbackEntry("kill-pods", "default/deployment/shop", {"replicas": 3})
    with pytest.raises(ConfigError, match=r"kubectl -n default scale deployment/shop --replicas=3"):
        restore_replicas(entry)


def test_drills_rollback_knows_both_replica_kinds() -> None:
    registry = RollbackRegistry()
    register_rollbacks(registry)
    assert {"scale-to", "kill-pods"} <= set(registry.kinds())
