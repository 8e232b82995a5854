"""The proxy's choice of backend and its per-pod rates, without binding a socket."""

from __future__ import annotations

from drills.core.clock import FakeClock
from drills.sandbox.node.endpoints import Backend
from drills.sandbox.node.proxy import ServiceProxy, forwarded_for

A = Backend("default", "shop-a", "10.244.5.2", 8080)
B = Backend("default", "shop-b", "10.244.5.3", 8080)


def test_round_robin_in_a_stable_order_whatever_the_source_order() -> None:
    listed = [B, A]
    proxy = ServiceProxy(lambda: list(listed))
    picks = [proxy.pick() for _ in range(4)]
    assert picks == [A, B, A, B]
    listed.reverse()
    assert proxy.pick() == A


def test_no_backend_is_none() -> None:
    assert ServiceProxy(list).pick() is None


def test_pod_rates_list_idle_backends_at_zero_over_the_window() -> None:
    clock = FakeClock()
    proxy = ServiceProxy(lambda: [A, B], rate_window_s=4.0, clock=clock)
    assert proxy.rate_window_s == 4.0
    assert proxy.pick() == A  # both are seen as serving from now on
    for _ in range(8):
        clock.advance(0.5)
        proxy.rates.record(A.key)
    assert proxy.pod_rates() == {A.key: 2.0, B.key: 0.0}


def test_the_proxy_appends_its_peer_to_the_forwarded_chain() -> None:
    """A client that names itself stays first; the hop is appended, as an ingress does."""
    assert forwarded_for("203.0.113.10", "127.0.0.1") == "203.0.113.10, 127.0.0.1"
    assert forwarded_for("10.0.0.1, 10.0.0.2", "127.0.0.1") == "10.0.0.1, 10.0.0.2, 127.0.0.1"
    assert forwarded_for(None, "127.0.0.1") == "127.0.0.1"
    assert forwarded_for(" , ", None) == ""
