from drills.probes.kube import endpoints_listed, no_pod_waiting, replicas_ready
from drills.targets.ports.workload import PodState
from tests.fakes import FakeWorkload


def test_replicas_ready_counts_ready_pods_against_desired() -> None:
    shop = FakeWorkload(replicas=3)
    assert replicas_ready(shop)().ok
    shop.pod_list[0] = PodState("shop-0", "Running", ready=False)
    observed = replicas_ready(shop)()
    assert not observed.ok
    assert observed.detail == "2/3 pods ready"


def test_terminating_pods_do_not_count_as_ready() -> None:
    shop = FakeWorkload(replicas=1, pod_list=[PodState("a", "Running", ready=True, deleting=True)])
    assert not replicas_ready(shop)().ok


def test_zero_desired_replicas_is_not_healthy() -> None:
    assert not replicas_ready(FakeWorkload(replicas=0, pod_list=[]))().ok


def test_endpoints_and_crashloop_probes_compose() -> None:
    shop = FakeWorkload(endpoint_count=0)
    serving = replicas_ready(shop) & endpoints_listed(shop)
    assert not serving().ok
    shop.endpoint_count = 3
    assert serving().ok
    shop.pod_list.append(
        PodState("shop-x", "Running", ready=False, waiting_reason="CrashLoopBackOff")
    )
    stuck = no_pod_waiting(shop)()
    assert not stuck.ok
    assert stuck.detail == "CrashLoopBackOff: shop-x"
