"""Endpoints controller: one Endpoints object per Service listing its ready and not-ready pods."""

from __future__ import annotations

from drills.sandbox.apiserver.store import ObjectStore
from drills.sandbox.controllers.common import Obj, is_ready, selected_pods

__all__ = ["EndpointsController"]


def _target_port(service_port: Obj, pod: Obj) -> int:
    target = service_port.get("targetPort", service_port.get("port", 0))
    if isinstance(target, int) or str(target).isdigit():
        return int(str(target))
    for container in pod.get("spec", {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return int(port["containerPort"])
    return int(service_port.get("port", 0))


def _address(pod: Obj) -> Obj:
    meta = pod["metadata"]
    return {
        "ip": pod["status"]["podIP"],
        "nodeName": pod.get("spec", {}).get("nodeName", ""),
        "targetRef": {
            "kind": "Pod",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
        },
    }


def subsets_for(service: Obj, pods: list[Obj]) -> list[Obj]:
    """The Endpoints subsets of `service` given its selected pods (pods need a podIP)."""
    live = [
        p
        for p in pods
        if p.get("status", {}).get("podIP") and not p["metadata"].get("deletionTimestamp")
    ]
    if not live:
        return []
    subsets = []
    # Pods may listen on different ports (the sandbox's processes do); one subset per port set.
    groups: dict[tuple[int, ...], list[Obj]] = {}
    service_ports = service.get("spec", {}).get("ports") or []
    for pod in live:
        key = tuple(_target_port(sp, pod) for sp in service_ports)
        groups.setdefault(key, []).append(pod)
    for key, members in sorted(groups.items()):
        subset: Obj = {
            "ports": [
                {"name": sp.get("name", ""), "port": port, "protocol": sp.get("protocol", "TCP")}
                for sp, port in zip(service_ports, key, strict=True)
            ]
        }
        ready = [_address(p) for p in members if is_ready(p)]
        waiting = [_address(p) for p in members if not is_ready(p)]
        if ready:
            subset["addresses"] = ready
        if waiting:
            subset["notReadyAddresses"] = waiting
        subsets.append(subset)
    return subsets


class EndpointsController:
    """Keeps each Service's Endpoints in step with its pods."""

    def __init__(self, store: ObjectStore) -> None:
        """Work on `store`."""
        self._store = store

    def sync(self) -> None:
        """One pass over all Services; Endpoints of deleted Services go too."""
        services, _ = self._store.list("services")
        names = set()
        for service in services:
            meta = service["metadata"]
            names.add((meta["namespace"], meta["name"]))
            selector = service.get("spec", {}).get("selector")
            if not selector:
                continue
            pods = selected_pods(self._store, meta["namespace"], {"matchLabels": selector})
            self._write(service, subsets_for(service, pods))
        endpoints, _ = self._store.list("endpoints")
        for ep in endpoints:
            key = (ep["metadata"]["namespace"], ep["metadata"]["name"])
            if key not in names:
                self._store.delete("endpoints", *key)

    def _write(self, service: Obj, subsets: list[Obj]) -> None:
        meta = service["metadata"]
        current = self._store.try_get("endpoints", meta["namespace"], meta["name"])
        body = {
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "labels": meta.get("labels", {}),
            },
            "subsets": subsets,
        }
        if current is None:
            self._store.create("endpoints", body, meta["namespace"])
        elif current.get("subsets") != subsets:
            current["subsets"] = subsets
            self._store.replace("endpoints", meta["namespace"], meta["name"], current)
