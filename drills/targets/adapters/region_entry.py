"""The runbook's "DNS change" (RUNBOOKS.md §3.17 step 2) as an EndpointSlice at the users' entry.

Users reach the shop through one address: the entry in front of the primary cluster (on the
sandbox, its service proxy), which routes by the EndpointSlices of Service `shop`. The least
invasive real way to send that address to another cluster is the one multi-cluster Services
use (KEP-1645, ServiceImport): an EndpointSlice labelled with the Service's name, managed by
someone other than the EndpointSlice controller (so the controller leaves it alone), listing the
other cluster's ready endpoints. The entry, its Service and the primary's own slices stay as
they are; the switch is one object, and switching back is deleting it.

`backup_endpoints` reads the backup cluster's ready shop endpoints and their ports, as its own
EndpointSlice controller lists them; `switch_entry` creates the imported slice in the primary;
`remove_entry` deletes it (False when it was not there). The replayer at the end undoes the
switch from the ledger (`drills rollback`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drills.core.errors import DrillError
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.targets.adapters.entry_cluster import entry_api
from drills.targets.adapters.kube import KubeApi, _call

try:
    from kubernetes.client.rest import ApiException
except ImportError as exc:  # pragma: no cover - depends on the installed extra
    raise ImportError(
        "the region entry adapter needs the k8s extra: pip install 'drills[k8s]'"
    ) from exc

__all__ = [
    "ENTRY_SWITCH_KIND",
    "MANAGED_BY",
    "ImportedEndpoints",
    "backup_endpoints",
    "register_rollbacks",
    "remove_entry",
    "switch_entry",
]

ENTRY_SWITCH_KIND = "entry-switch"  # = drills.faults.region.ENTRY_SWITCH
MANAGED_BY = "drills.region-failover"  # not the controller's: it leaves this slice alone
_SERVICE_NAME = "kubernetes.io/service-name"
_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
_NOT_FOUND = 404


@dataclass(frozen=True)
class ImportedEndpoints:
    """The backup cluster's ready endpoints of a Service and the ports its slices list."""

    endpoints: tuple[dict[str, Any], ...]
    ports: tuple[dict[str, Any], ...]

    def addresses(self) -> list[str]:
        """Every address listed."""
        return [a for e in self.endpoints for a in e.get("addresses") or []]


def _slices(api: KubeApi, namespace: str, service: str) -> list[dict[str, Any]]:
    listed = _call(
        f"list endpointslices of service/{service}",
        lambda: api.discovery.list_namespaced_endpoint_slice(
            namespace, label_selector=f"{_SERVICE_NAME}={service}"
        ),
    )
    serialize = api.core.api_client.sanitize_for_serialization
    return [dict(serialize(item)) for item in listed.items]


def backup_endpoints(api: KubeApi, namespace: str, service: str) -> ImportedEndpoints:
    """The ready endpoints of `service` in the backup cluster (`api`), node names dropped."""
    endpoints: list[dict[str, Any]] = []
    ports: list[dict[str, Any]] = []
    for found in _slices(api, namespace, service):
        ports = ports or list(found.get("ports") or [])
        for endpoint in found.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            kept = {k: v for k, v in endpoint.items() if k in ("addresses", "targetRef")}
            endpoints.append({**kept, "conditions": {"ready": True}})
    return ImportedEndpoints(tuple(endpoints), tuple(ports))


def switch_entry(
    api: KubeApi, namespace: str, service: str, name: str, imported: ImportedEndpoints
) -> None:
    """Create slice `name` for `service` in the primary (`api`) listing `imported`."""
    if not imported.endpoints or not imported.ports:
        raise DrillError(
            f"the backup region lists no ready endpoint of service/{service}: nothing to switch to"
        )
    body = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {_SERVICE_NAME: service, _MANAGED_BY: MANAGED_BY},
        },
        "addressType": "IPv4",
        "ports": list(imported.ports),
        "endpoints": list(imported.endpoints),
    }
    _call(
        f"create endpointslice/{name}",
        lambda: api.discovery.create_namespaced_endpoint_slice(namespace, body),
    )


def remove_entry(api: KubeApi, namespace: str, name: str) -> bool:
    """Delete slice `name`; False when it was not there."""
    try:
        api.discovery.delete_namespaced_endpoint_slice(name, namespace)
    except ApiException as exc:
        if exc.status == _NOT_FOUND:
            return False
        raise DrillError(f"delete endpointslice/{name}: HTTP {exc.status} {exc.reason}") from exc
    return True


def _replay_switch(entry: RollbackEntry) -> Replayed:
    namespace, name = str(entry.args["namespace"]), str(entry.args["slice"])
    by_hand = f"kubectl -n {namespace} delete endpointslice {name}"
    removed = remove_entry(entry_api(entry, namespace, by_hand), namespace, name)
    return Replayed.RESTORED if removed else Replayed.ALREADY


def register_rollbacks(registry: RollbackRegistry) -> None:
    """Register the `entry-switch` kind."""
    registry.register(ENTRY_SWITCH_KIND, _replay_switch)
