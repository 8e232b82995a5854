import pytest

from drills.core.errors import InjectionFailed, SafetyViolation
from drills.core.safety import BlastRadius
from drills.faults.pods import BadRelease, KillPods, bad_release_image
from drills.targets.ports.workload import Workload
from tests.fakes import FakeWorkload


def test_kill_pods_force_deletes_the_requested_share() -> None:
    shop = FakeWorkload(replicas=4)
    fault = KillPods(shop, fraction=0.5)
    entry = fault.rollback_entry()
    fault.apply()
    assert shop.deleted == [("shop-0", 0), ("shop-1", 0)]
    assert fault.killed == ["shop-0", "shop-1"]
    assert (entry.kind, entry.target, dict(entry.args)) == (
        "kill-pods",
        "default/deployment/shop",
        {"replicas": 4},
    )


def test_kill_pods_refuses_more_than_the_blast_radius() -> None:
    shop = FakeWorkload(replicas=3)
    fault = KillPods(shop, fraction=1.0, blast_radius=BlastRadius(max_fraction=0.5))
    fault.rollback_entry()
    with pytest.raises(SafetyViolation, match="allows 1"):
        fault.apply()
    assert shop.deleted == []


def test_kill_pods_on_a_one_pod_group_is_refused_not_a_full_outage() -> None:
    shop = FakeWorkload(replicas=1)
    fault = KillPods(shop, fraction=0.5, blast_radius=BlastRadius(max_fraction=0.5))
    fault.rollback_entry()
    with pytest.raises(SafetyViolation, match="allows 0 of 1 pods"):
        fault.apply()
    assert shop.deleted == []


def test_kill_pods_with_nothing_running_cannot_inject() -> None:
    shop = FakeWorkload(replicas=0, pod_list=[])
    shop.pod_list = []
    with pytest.raises(InjectionFailed, match="no running pods"):
        KillPods(shop).apply()


def test_kill_pods_rollback_restores_replicas_only_when_changed() -> None:
    shop = FakeWorkload(replicas=3)
    fault = KillPods(shop)
    fault.rollback_entry()
    shop.scale(0)  # someone ran the emergency shutdown by mistake
    fault.rollback()
    assert shop.replicas == 3


def test_bad_release_rolls_back_to_the_good_image() -> None:
    shop = FakeWorkload()
    fault = BadRelease(shop, image="drills/shop:bad")
    entry = fault.rollback_entry()
    fault.apply()
    assert shop.image == "drills/shop:bad"
    assert dict(entry.args) == {"image": "drills/shop:1.0"}
    fault.rollback()
    assert shop.image == "drills/shop:1.0"
    fault.rollback()  # idempotent: nothing more to do
    assert shop.revisions == ["drills/shop:1.0", "drills/shop:bad", "drills/shop:1.0"]


def test_bad_release_of_the_running_image_is_refused() -> None:
    shop = FakeWorkload()
    fault = BadRelease(shop, image=shop.image)
    fault.rollback_entry()
    with pytest.raises(InjectionFailed, match="already runs"):
        fault.apply()


def test_fake_satisfies_the_port() -> None:
    workload: Workload = FakeWorkload()
    assert workload.desired_replicas() == 3


@pytest.mark.parametrize(
    ("image", "bad"),
    [
        ("shop:1.0.0", "shop:bad"),
        ("shop", "shop:bad"),
        ("registry:5000/team/shop:1.0", "registry:5000/team/shop:bad"),
        ("registry:5000/team/shop", "registry:5000/team/shop:bad"),
        ("shop@sha256:" + "a" * 64, "shop:bad"),  # a digest is content, not a tag
        ("ghcr.io/acme/shop:1.2@sha256:" + "b" * 64, "ghcr.io/acme/shop:bad"),
    ],
)
def test_the_bad_release_is_the_repository_with_the_bad_tag(image: str, bad: str) -> None:
    assert bad_release_image(image) == bad
    assert "@" not in bad_release_image(image)
