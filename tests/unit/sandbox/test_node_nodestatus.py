"""The Node, its status and Lease as the kubelet posts them; the kubelet API's log query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drills.sandbox.node.kubelet_api import NOT_STREAMING, log_options
from drills.sandbox.node.nodestatus import (
    CONTAINER_RUNTIME_VERSION,
    NodeIdentity,
    lease_body,
    micro_time,
    node_object,
    node_status,
)
from drills.sandbox.node.podstatus import Transitions

NODE = NodeIdentity("sandbox-node-2", "10.244.3.1", 10250, "v1.37.2")
NOW = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_the_node_registers_with_the_well_known_labels() -> None:
    node = node_object(NODE)
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "sandbox-node-2"
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"] in ("amd64", "arm64")
    assert node["spec"] == {}


def test_status_names_addresses_port_versions_and_four_conditions() -> None:
    status = node_status(NODE, Transitions(), "2026-01-01T12:00:00Z")
    assert status["addresses"] == [
        {"type": "InternalIP", "address": "10.244.3.1"},
        {"type": "Hostname", "address": "sandbox-node-2"},
    ]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert (
        status["capacity"] == status["allocatable"] == {"cpu": "2", "memory": "4Gi", "pods": "110"}
    )
    info = status["nodeInfo"]
    assert info["kubeletVersion"] == "v1.37.2"
    assert info["containerRuntimeVersion"] == CONTAINER_RUNTIME_VERSION == "drills-process://1"
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {
        "MemoryPressure": ("False", "KubeletHasSufficientMemory"),
        "DiskPressure": ("False", "KubeletHasNoDiskPressure"),
        "PIDPressure": ("False", "KubeletHasSufficientPID"),
        "Ready": ("True", "KubeletReady"),
    }


def test_ready_after_unknown_gets_a_new_transition_time() -> None:
    seen = [
        {"type": "Ready", "status": "Unknown", "lastTransitionTime": "2026-01-01T11:59:00Z"},
        {"type": "DiskPressure", "status": "False", "lastTransitionTime": "2026-01-01T11:00:00Z"},
    ]
    status = node_status(NODE, Transitions(seen), "2026-01-01T12:00:00Z")
    since = {c["type"]: c["lastTransitionTime"] for c in status["conditions"]}
    assert since["Ready"] == "2026-01-01T12:00:00Z"
    assert since["DiskPressure"] == "2026-01-01T11:00:00Z"
    assert {c["lastHeartbeatTime"] for c in status["conditions"]} == {"2026-01-01T12:00:00Z"}


def test_lease_is_owned_by_the_node_and_renewed_in_microseconds() -> None:
    lease = lease_body("sandbox-node-2", "node-uid", 10, NOW)
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Node", "name": "sandbox-node-2", "uid": "node-uid"}
    ]
    assert lease["spec"] == {
        "holderIdentity": "sandbox-node-2",
        "leaseDurationSeconds": 10,
        "renewTime": "2026-01-01T12:00:00.123456Z",
    }
    assert micro_time(NOW) == "2026-01-01T12:00:00.123456Z"


def test_log_query_as_the_api_server_forwards_it() -> None:
    options = log_options(
        {"follow": "true", "tailLines": "5", "limitBytes": "100", "timestamps": "true"}, NOW
    )
    assert (options.follow, options.tail_lines, options.limit_bytes, options.timestamps) == (
        True,
        5,
        100,
        True,
    )
    assert not options.previous
    assert log_options({"sinceSeconds": "30"}, NOW).since == NOW - timedelta(seconds=30)
    since = log_options({"sinceTime": "2026-01-01T11:00:00Z"}, NOW).since
    assert since == datetime(2026, 1, 1, 11, tzinfo=UTC)
    assert log_options({"tail": "3"}, NOW).tail_lines == 3
    assert log_options({"tail": "all", "previous": "true"}, NOW).tail_lines is None
    with pytest.raises(ValueError, match="limitBytes"):
        log_options({"limitBytes": "0"}, NOW)


def test_streaming_error_says_what_to_use_instead() -> None:
    assert "does not implement the streaming protocol" in NOT_STREAMING
    assert "kubectl logs" in NOT_STREAMING
