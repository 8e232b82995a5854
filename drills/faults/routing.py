"""The faults of RUNBOOKS.md §3.12 `ingress-unreachable`: traffic stops short of healthy pods.

Each breaks one layer of the path users take (see `drills.targets.ports.routing`) and records,
before it acts, what puts that layer back: the selector, the target port, or the name of the
policy it created. None of them touches a pod: the pods stay Ready and healthy throughout,
which is what makes the outage hard to see from `kubectl get pods`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drills.core.errors import InjectionFailed
from drills.core.safety import RollbackEntry
from drills.targets.ports.routing import Routing, ServiceView

__all__ = ["AddService", "DenyAllPolicy", "WrongSelector", "WrongTargetPort", "deny_all_manifest"]


def _read(routing: Routing, name: str) -> ServiceView:
    found = routing.service(name)
    if found is None:
        raise InjectionFailed(f"service/{name} does not exist in {routing.namespace}")
    return found


@dataclass
class WrongSelector:
    """Replace Service `service`'s selector with `selector`, which no pod carries (`selector`).

    The upstream EndpointSlice controller then empties the Service's slices: every user request
    finds no endpoint. The rollback puts the selector read before back, whole.
    """

    routing: Routing
    service: str
    selector: Mapping[str, str]
    kind: str = "service-selector"
    _previous: dict[str, str] | None = None

    @property
    def target(self) -> str:
        """The Service patched."""
        return f"{self.routing.namespace}/service/{self.service}"

    @property
    def previous(self) -> dict[str, str]:
        """The selector read before the fault (empty until the rollback entry is taken)."""
        return dict(self._previous or {})

    def describe(self) -> str:
        """One line for the plan."""
        wrong = ",".join(f"{k}={v}" for k, v in sorted(self.selector.items()))
        return f"patch the selector of {self.target} to {wrong}"

    def rollback_entry(self) -> RollbackEntry:
        """Remember the selector now, to put it back."""
        self._previous = dict(_read(self.routing, self.service).selector)
        args = {"selector": json.dumps(self._previous, sort_keys=True)}
        return RollbackEntry(self.kind, self.target, args)

    def apply(self) -> None:
        """Patch the selector; refuses one that some pod still carries (no outage then)."""
        if not self._previous:
            raise InjectionFailed(f"{self.target} has no selector to break")
        if self.routing.pods_selected(self.selector):
            raise InjectionFailed(f"pods carry {dict(self.selector)}: the Service would not empty")
        self.routing.set_selector(self.service, self.selector)

    def rollback(self) -> None:
        """Put the recorded selector back unless the recovery did; idempotent."""
        found = self.routing.service(self.service)
        if self._previous and found is not None and dict(found.selector) != self._previous:
            self.routing.set_selector(self.service, self._previous)


@dataclass
class WrongTargetPort:
    """Point Service port `port_name` at `wrong_port`, a port the pods do not listen on (`ingress`).

    The endpoints still list every pod IP, now with the wrong port: the front door forwards to
    it and the pods refuse, so users see 502 Bad Gateway [003]. The rollback puts the target
    port read before back.
    """

    routing: Routing
    service: str
    port_name: str
    wrong_port: int | str
    kind: str = "service-target-port"
    _previous: int | str | None = None

    @property
    def target(self) -> str:
        """The Service port patched, as the plan names it."""
        return f"{self.routing.namespace}/service/{self.service}"

    @property
    def previous(self) -> int | str | None:
        """The target port read before the fault (None until the rollback entry is taken)."""
        return self._previous

    def describe(self) -> str:
        """One line for the plan."""
        return f"point port {self.port_name} of {self.target} at targetPort {self.wrong_port}"

    def rollback_entry(self) -> RollbackEntry:
        """Remember the target port now, to put it back."""
        found = _read(self.routing, self.service)
        port = next((p for p in found.ports if p.name == self.port_name), None)
        self._previous = None if port is None else port.target_port
        args: dict[str, str | int | None] = {
            "port_name": self.port_name,
            "target_port": self._previous,
        }
        return RollbackEntry(self.kind, self.target, args)

    def apply(self) -> None:
        """Patch the target port; there must be such a port, pointed elsewhere now."""
        if self._previous is None:
            raise InjectionFailed(f"{self.target} has no port named {self.port_name!r}")
        if self._previous == self.wrong_port:
            raise InjectionFailed(f"{self.target} already targets {self.wrong_port}")
        self.routing.set_target_port(self.service, self.port_name, self.wrong_port)

    def rollback(self) -> None:
        """Put the recorded target port back unless the recovery did; idempotent."""
        if self._previous is None:
            return
        found = self.routing.service(self.service)
        port = next((p for p in found.ports if p.name == self.port_name), None) if found else None
        if port is not None and port.target_port != self._previous:
            self.routing.set_target_port(self.service, self.port_name, self._previous)


def deny_all_manifest(name: str) -> dict[str, Any]:
    """A NetworkPolicy that selects every pod and allows no incoming traffic."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "drills"}},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


@dataclass
class DenyAllPolicy:
    """Create a deny-all ingress NetworkPolicy named `name` (`netpol`).

    Where the pod network enforces NetworkPolicy, every request to every pod is dropped. The
    rollback deletes this policy alone: never `kubectl delete networkpolicy --all` (§5.2),
    which would take the namespace's legitimate policies with it.
    """

    routing: Routing
    name: str
    kind: str = "deny-all-policy"

    @property
    def target(self) -> str:
        """The policy created."""
        return f"{self.routing.namespace}/networkpolicy/{self.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"create {self.target} (every pod, no ingress allowed)"

    def rollback_entry(self) -> RollbackEntry:
        """The name of the policy to delete."""
        return RollbackEntry(self.kind, self.target, {"name": self.name})

    def apply(self) -> None:
        """Create the policy; refuses when one of that name exists (it would not be ours)."""
        if any(p.name == self.name for p in self.routing.policies()):
            raise InjectionFailed(f"{self.target} exists already: it is not the drill's to delete")
        self.routing.create_policy(deny_all_manifest(self.name))

    def rollback(self) -> None:
        """Delete the policy unless the recovery did; idempotent."""
        self.routing.delete_policy(self.name)


@dataclass
class AddService:
    """Create Service `name` from `manifest` (a harness change, undone by deleting it).

    Used through `Drill.prepare` by the defect twin of `selector`, whose recovery patches the
    wrong one of two Services.
    """

    routing: Routing
    manifest: Mapping[str, Any]
    kind: str = "create-service"
    created: bool = field(default=False)

    @property
    def name(self) -> str:
        """The Service's name."""
        return str(self.manifest["metadata"]["name"])

    @property
    def target(self) -> str:
        """The Service created."""
        return f"{self.routing.namespace}/service/{self.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"create {self.target}"

    def rollback_entry(self) -> RollbackEntry:
        """The name of the Service to delete."""
        return RollbackEntry(self.kind, self.target, {"name": self.name})

    def apply(self) -> None:
        """Create it; refuses when a Service of that name exists (it would not be ours)."""
        if self.routing.service(self.name) is not None:
            raise InjectionFailed(f"{self.target} exists already: it is not the drill's")
        self.routing.create_service(self.manifest)
        self.created = True

    def rollback(self) -> None:
        """Delete the Service if this change created it; idempotent."""
        if self.created:
            self.routing.delete_service(self.name)
