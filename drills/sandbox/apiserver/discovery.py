"""Classic discovery documents: /version, /api, /api/v1, /apis and /apis/<group>/<version>.

kubectl first asks for aggregated discovery with plain ``application/json`` as its last choice;
the app always answers with these classic documents (content type application/json), and kubectl
then reads the per-group resource lists, as it does with any server without aggregation.
"""

from __future__ import annotations

from typing import Any

from drills.sandbox.apiserver.resources import ALL_VERBS, RESOURCES, Resource, by_group_version

__all__ = ["GROUPS", "api_group_list", "api_versions", "resource_list", "version_info"]

# (group, version) pairs served, in discovery order; metrics and policy have no stored kinds.
GROUPS: tuple[tuple[str, str], ...] = (
    ("apps", "v1"),
    ("autoscaling", "v2"),
    ("policy", "v1"),
    ("metrics.k8s.io", "v1beta1"),
)
_READ_ONLY = ("get", "list")
# Kinds that `kubectl get all` leaves out, as on a real server.
_NOT_ALL = frozenset({"events", "nodes", "namespaces", "configmaps", "secrets", "endpoints"})


def version_info() -> dict[str, str]:
    """The /version body (a v1.35 server, built as the sandbox)."""
    return {
        "major": "1",
        "minor": "35",
        "gitVersion": "v1.35.0-drills-sandbox",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    """The /api body."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def api_group_list() -> dict[str, Any]:
    """The /apis body."""
    groups = []
    for group, version in GROUPS:
        gv = {"groupVersion": f"{group}/{version}", "version": version}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _entry(res: Resource) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": res.plural,
        "singularName": res.singular,
        "namespaced": res.namespaced,
        "kind": res.kind,
        "verbs": list(ALL_VERBS),
        "shortNames": list(res.short_names),
        "categories": [] if res.plural in _NOT_ALL else ["all"],
        "storageVersionHash": "",
    }
    if res.plural == "events":
        main["verbs"] = list(ALL_VERBS)
    entries = [main]
    for sub in res.subresources:
        entry: dict[str, Any] = {
            "name": f"{res.plural}/{sub}",
            "singularName": "",
            "namespaced": res.namespaced,
            "kind": res.kind,
            "verbs": ["get", "patch", "update"],
        }
        if sub == "scale":
            entry.update(group="autoscaling", version="v1", kind="Scale")
        elif sub == "eviction":
            entry.update(group="policy", version="v1", kind="Eviction", verbs=["create"])
        elif sub == "log":
            entry.update(verbs=["get"])
        entries.append(entry)
    return entries


def _metrics_entries() -> list[dict[str, Any]]:
    return [
        {
            "name": "pods",
            "singularName": "",
            "namespaced": True,
            "kind": "PodMetrics",
            "verbs": list(_READ_ONLY),
        },
        {
            "name": "nodes",
            "singularName": "",
            "namespaced": False,
            "kind": "NodeMetrics",
            "verbs": list(_READ_ONLY),
        },
    ]


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    """The APIResourceList of one group/version, or None when it is not served."""
    if group == "metrics.k8s.io" and version == "v1beta1":
        resources = _metrics_entries()
    elif group == "policy" and version == "v1":
        resources = []
    elif (group, version) in GROUPS or (group, version) == ("", "v1"):
        resources = [e for r in by_group_version(group, version) for e in _entry(r)]
    else:
        return None
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


def served_kinds() -> list[str]:
    """Every stored kind, for documentation and tests."""
    return sorted(r.kind for r in RESOURCES.values())
