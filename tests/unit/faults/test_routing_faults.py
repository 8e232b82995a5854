"""The §3.12 faults over an in-memory Routing: what each records first, breaks and puts back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from drills.core.errors import InjectionFailed
from drills.faults.routing import (
    AddService,
    DenyAllPolicy,
    WrongSelector,
    WrongTargetPort,
    deny_all_manifest,
)
from tests.routing_fakes import MemoryRouting


def test_wrong_selector_records_the_selector_then_empties_the_endpoints() -> None:
    routing = MemoryRouting()
    fault = WrongSelector(routing, "shop", {"app": "shop-api"})
    entry = fault.rollback_entry()
    assert (entry.kind, entry.target) == ("service-selector", "default/service/shop")
    assert json.loads(str(entry.args["selector"])) == {"app": "shop"}
    assert routing.calls == []  # nothing changed before the entry is on disk
    fault.apply()
    assert routing.endpoints("shop") == ()
    fault.rollback()
    assert routing.by_name["shop"].selector == {"app": "shop"}
    assert len(routing.endpoints("shop")) == 2
    fault.rollback()  # idempotent: the selector is back, nothing is patched again
    assert len(routing.calls) == 2


def test_wrong_selector_refuses_a_selector_some_pod_carries() -> None:
    routing = MemoryRouting()
    fault = WrongSelector(routing, "shop", {"app": "shop"})
    fault.rollback_entry()
    with pytest.raises(InjectionFailed, match="would not empty"):
        fault.apply()
    assert routing.calls == []


def test_wrong_selector_on_a_missing_service_fails_before_any_change() -> None:
    routing = MemoryRouting(by_name={})
    with pytest.raises(InjectionFailed, match="does not exist"):
        WrongSelector(routing, "shop", {"app": "x"}).rollback_entry()


def test_wrong_target_port_keeps_the_pods_listed_at_the_wrong_port() -> None:
    routing = MemoryRouting()
    fault = WrongTargetPort(routing, "shop", "http", 8081)
    entry = fault.rollback_entry()
    assert entry.args == {"port_name": "http", "target_port": "http"}
    fault.apply()
    assert {e.port for e in routing.endpoints("shop")} == {8081}
    assert len(routing.endpoints("shop")) == 2  # every pod IP still listed
    fault.rollback()
    assert {e.port for e in routing.endpoints("shop")} == {8080}
    fault.rollback()
    assert routing.calls == ["targetPort shop http 8081", "targetPort shop http http"]


def test_wrong_target_port_refuses_an_unknown_port_or_no_change() -> None:
    unknown = WrongTargetPort(MemoryRouting(), "shop", "grpc", 8081)
    unknown.rollback_entry()
    with pytest.raises(InjectionFailed, match="no port named 'grpc'"):
        unknown.apply()
    same = WrongTargetPort(MemoryRouting(), "shop", "http", "http")
    same.rollback_entry()
    with pytest.raises(InjectionFailed, match="already targets"):
        same.apply()


def test_deny_all_policy_is_deleted_by_name_alone() -> None:
    routing = MemoryRouting()
    routing.create_policy(
        {"metadata": {"name": "allow-web"}, "spec": {"podSelector": {}, "ingress": [{}]}}
    )
    fault = DenyAllPolicy(routing, "drills-deny-all")
    assert fault.rollback_entry().args == {"name": "drills-deny-all"}
    fault.apply()
    [deny] = [p for p in routing.policies() if p.denies_all_ingress]
    assert deny.name == "drills-deny-all"
    fault.rollback()
    assert [p.name for p in routing.policies()] == ["allow-web"]  # the legitimate one stays


def test_deny_all_policy_refuses_a_policy_that_is_not_its_own() -> None:
    routing = MemoryRouting()
    routing.create_policy(deny_all_manifest("drills-deny-all"))
    fault = DenyAllPolicy(routing, "drills-deny-all")
    fault.rollback_entry()
    with pytest.raises(InjectionFailed, match="exists already"):
        fault.apply()


def test_add_service_deletes_only_what_it_created() -> None:
    routing = MemoryRouting()
    manifest: dict[str, Any] = {
        "metadata": {"name": "shop"},
        "spec": {
            "selector": {"app": "x"},
            "ports": [{"name": "http", "port": 80, "targetPort": 1}],
        },
    }
    change = AddService(routing, manifest)
    change.rollback_entry()
    with pytest.raises(InjectionFailed, match="exists already"):
        change.apply()
    change.rollback()
    assert "shop" in routing.by_name  # not created by the change, so not deleted
    manifest["metadata"]["name"] = "shop-canary"
    canary = AddService(routing, manifest)
    canary.apply()
    canary.rollback()
    assert "shop-canary" not in routing.by_name
