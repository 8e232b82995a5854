"""Port for the path users' traffic takes to the pods (RUNBOOKS.md §3.12 `ingress-unreachable`).

Users reach the shop through an ingress (on the sandbox: the node agent's service proxy, which
plays the part of an Ingress in front of Service `shop`), the Service's selector picks the pods,
its `targetPort` the port on each pod, the EndpointSlice controller lists the addresses, and a
NetworkPolicy may drop the packets on the way. Each of those is a layer the runbook checks in
order (`kubectl get ingress`, `get svc`, `get endpoints`, `get networkpolicy`), and each is a
layer a fault of §3.12 breaks. The views here are plain frozen data, so faults, fixtures and
unit tests never see a client object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["EndpointView", "PolicyView", "Routing", "ServicePortView", "ServiceView"]


@dataclass(frozen=True)
class ServicePortView:
    """One port of a Service: `name`, `port` and `target_port` (a number or a port name)."""

    name: str
    port: int
    target_port: int | str


@dataclass(frozen=True)
class ServiceView:
    """A Service as `kubectl get svc -o wide` and `describe svc` show it."""

    name: str
    selector: Mapping[str, str]
    ports: tuple[ServicePortView, ...]

    def describe(self) -> str:
        """`service/shop selector app=shop ports http 80->http`."""
        selector = ",".join(f"{k}={v}" for k, v in sorted(self.selector.items())) or "<none>"
        ports = " ".join(f"{p.name or '-'} {p.port}->{p.target_port}" for p in self.ports)
        return f"service/{self.name} selector {selector} ports {ports or '<none>'}"


@dataclass(frozen=True)
class EndpointView:
    """One endpoint of a Service as its EndpointSlices list it (`kubectl get endpoints`)."""

    ip: str
    port: int | None  # the resolved target port of the Service's first port; None: unresolved
    pod: str  # the targetRef's name ("" when the slice names none)
    ready: bool


@dataclass(frozen=True)
class PolicyView:
    """A NetworkPolicy as `kubectl describe networkpolicy` summarises it."""

    name: str
    pod_selector: Mapping[str, str]  # empty: every pod of the namespace
    policy_types: tuple[str, ...]
    ingress_rules: int
    egress_rules: int

    @property
    def denies_all_ingress(self) -> bool:
        """True when it selects every pod and allows no incoming traffic at all."""
        return not self.pod_selector and "Ingress" in self.policy_types and not self.ingress_rules


class Routing(Protocol):
    """The Services, endpoints, Ingresses and NetworkPolicies of one namespace."""

    namespace: str

    def services(self) -> tuple[ServiceView, ...]:
        """Every Service of the namespace, by name."""
        ...

    def service(self, name: str) -> ServiceView | None:
        """Service `name`; None when it does not exist."""
        ...

    def endpoints(self, service: str) -> tuple[EndpointView, ...]:
        """The endpoints the EndpointSlices of Service `service` list, by address."""
        ...

    def pods_selected(self, selector: Mapping[str, str]) -> tuple[str, ...]:
        """Names of the pods `selector` matches (none for an empty selector)."""
        ...

    def pod_labels_of(self, deployment: str) -> dict[str, str]:
        """The labels Deployment `deployment` gives its pods (its `matchLabels`)."""
        ...

    def container_ports_of(self, deployment: str) -> dict[str, int]:
        """The first container's ports of the Deployment: name (the number when unnamed) -> port."""
        ...

    def set_selector(self, service: str, selector: Mapping[str, str]) -> None:
        """Replace the Service's whole selector (`kubectl patch svc --type=json`)."""
        ...

    def set_target_port(self, service: str, port_name: str, target: int | str) -> None:
        """Point the Service port `port_name` at `target` on the pods."""
        ...

    def ingresses(self) -> tuple[str, ...]:
        """`kubectl get ingress`, one line per Ingress (backends included)."""
        ...

    def policies(self) -> tuple[PolicyView, ...]:
        """Every NetworkPolicy of the namespace, by name."""
        ...

    def create_policy(self, manifest: Mapping[str, Any]) -> None:
        """Create a NetworkPolicy from its manifest."""
        ...

    def delete_policy(self, name: str) -> bool:
        """Delete NetworkPolicy `name` alone; False when it was already gone."""
        ...

    def create_service(self, manifest: Mapping[str, Any]) -> None:
        """Create a Service from its manifest."""
        ...

    def delete_service(self, name: str) -> bool:
        """Delete Service `name`; False when it was already gone."""
        ...
