"""An in-memory Routing port (drills.targets.ports.routing) for the §3.12 unit tests.

Services, pods (name -> labels) and NetworkPolicies in one namespace; endpoints follow the
selector and target port the way the EndpointSlice controller would, so a fault's effect and
its rollback can be checked without a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from drills.targets.ports.routing import EndpointView, PolicyView, ServicePortView, ServiceView

SHOP = ServiceView("shop", {"app": "shop"}, (ServicePortView("http", 80, "http"),))
PODS = {"shop-a": {"app": "shop"}, "shop-b": {"app": "shop"}}
IPS = {"shop-a": "10.244.1.2", "shop-b": "10.244.1.3"}
CONTAINER_PORTS = {"http": 8080}


@dataclass
class MemoryRouting:
    """The Routing port over dicts; `calls` records every change, in order."""

    namespace: str = "default"
    by_name: dict[str, ServiceView] = field(default_factory=lambda: {"shop": SHOP})
    pods: dict[str, dict[str, str]] = field(default_factory=lambda: dict(PODS))
    policy_views: dict[str, PolicyView] = field(default_factory=dict)
    ingress_lines: tuple[str, ...] = ()
    calls: list[str] = field(default_factory=list)

    def services(self) -> tuple[ServiceView, ...]:
        return tuple(self.by_name[n] for n in sorted(self.by_name))

    def service(self, name: str) -> ServiceView | None:
        return self.by_name.get(name)

    def endpoints(self, service: str) -> tuple[EndpointView, ...]:
        found = self.by_name.get(service)
        if found is None or not found.ports:
            return ()
        target = found.ports[0].target_port
        port = CONTAINER_PORTS.get(target) if isinstance(target, str) else target
        return tuple(
            EndpointView(IPS[p], port, p, True) for p in self.pods_selected(found.selector)
        )

    def pods_selected(self, selector: Mapping[str, str]) -> tuple[str, ...]:
        if not selector:
            return ()
        return tuple(
            sorted(
                n
                for n, labels in self.pods.items()
                if all(labels.get(k) == v for k, v in selector.items())
            )
        )

    def pod_labels_of(self, deployment: str) -> dict[str, str]:
        return {"app": "shop"}

    def container_ports_of(self, deployment: str) -> dict[str, int]:
        return dict(CONTAINER_PORTS)

    def set_selector(self, service: str, selector: Mapping[str, str]) -> None:
        self.calls.append(f"selector {service} {dict(selector)}")
        self.by_name[service] = replace(self.by_name[service], selector=dict(selector))

    def set_target_port(self, service: str, port_name: str, target: int | str) -> None:
        self.calls.append(f"targetPort {service} {port_name} {target}")
        found = self.by_name[service]
        ports = tuple(
            replace(p, target_port=target) if p.name == port_name else p for p in found.ports
        )
        self.by_name[service] = replace(found, ports=ports)

    def ingresses(self) -> tuple[str, ...]:
        return self.ingress_lines

    def policies(self) -> tuple[PolicyView, ...]:
        return tuple(self.policy_views[n] for n in sorted(self.policy_views))

    def create_policy(self, manifest: Mapping[str, Any]) -> None:
        name = str(manifest["metadata"]["name"])
        spec = manifest["spec"]
        self.calls.append(f"create policy {name}")
        self.policy_views[name] = PolicyView(
            name,
            dict(spec.get("podSelector", {}).get("matchLabels") or {}),
            tuple(spec.get("policyTypes", ())),
            len(spec.get("ingress") or []),
            len(spec.get("egress") or []),
        )

    def delete_policy(self, name: str) -> bool:
        self.calls.append(f"delete policy {name}")
        return self.policy_views.pop(name, None) is not None

    def create_service(self, manifest: Mapping[str, Any]) -> None:
        name = str(manifest["metadata"]["name"])
        self.calls.append(f"create service {name}")
        ports = tuple(
            ServicePortView(p["name"], p["port"], p["targetPort"])
            for p in manifest["spec"]["ports"]
        )
        self.by_name[name] = ServiceView(name, dict(manifest["spec"]["selector"]), ports)

    def delete_service(self, name: str) -> bool:
        self.calls.append(f"delete service {name}")
        return self.by_name.pop(name, None) is not None
