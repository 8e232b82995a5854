"""Which backends a Service has, read from its ``discovery.k8s.io/v1`` EndpointSlices.

Pure functions over the JSON the API server returns, so the rules can be tested without one:

- the Service port the proxy serves is picked by name or number (the first port by default);
  the slices carry that port's *resolved* target port under the Service port's name, so a
  named ``targetPort`` (``http``) needs no pod lookup;
- an endpoint whose ``conditions.ready`` is true (or absent, which the API and kube-proxy read
  as ready) takes traffic; when none is ready, endpoints that still serve while terminating take it,
  which is what kube-proxy does so that a rollout's last pods drain instead of dropping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Backend",
    "Candidate",
    "candidates",
    "service_port_name",
    "slice_port",
    "usable_backends",
]

Json = Mapping[str, Any]


@dataclass(frozen=True)
class Backend:
    """One endpoint traffic may go to: the pod behind it and where it listens."""

    namespace: str
    pod: str
    ip: str
    port: int

    @property
    def base_url(self) -> str:
        """``http://ip:port``."""
        return f"http://{self.ip}:{self.port}"

    @property
    def key(self) -> tuple[str, str]:
        """``(namespace, pod)``, the key request counts are kept under."""
        return (self.namespace, self.pod)


@dataclass(frozen=True)
class Candidate:
    """A backend with the slice conditions that decide whether it gets traffic."""

    backend: Backend
    ready: bool
    serving: bool
    terminating: bool


def service_port_name(service: Json, port: int | str | None = None) -> str | None:
    """The name of the Service port to serve ("" when unnamed); None when it has no such port.

    `port` picks by name (str) or by port number (int); None takes the first port.
    """
    ports = (service.get("spec") or {}).get("ports") or []
    for entry in ports:
        if port is None or port in (entry.get("name"), entry.get("port")):
            return str(entry.get("name") or "")
    return None


def slice_port(endpoint_slice: Json, port_name: str | None) -> int | None:
    """The target port number a slice lists for the Service port `port_name`.

    With `port_name` None (the Service is not known yet) a slice with exactly one port is
    taken at its word; otherwise None.
    """
    ports = endpoint_slice.get("ports") or []
    if port_name is None:
        return int(ports[0]["port"]) if len(ports) == 1 and ports[0].get("port") else None
    for entry in ports:
        if (entry.get("name") or "") == port_name and entry.get("port") is not None:
            return int(entry["port"])
    return None


def _candidate(endpoint: Json, namespace: str, port: int) -> Candidate | None:
    addresses = endpoint.get("addresses") or []
    if not addresses:
        return None
    conditions = endpoint.get("conditions") or {}
    ready = conditions.get("ready") is not False
    serving = conditions.get("serving") is not False  # kube-proxy: absent means true
    target = endpoint.get("targetRef") or {}
    pod = str(target.get("name") or addresses[0])
    backend = Backend(str(target.get("namespace") or namespace), pod, str(addresses[0]), port)
    return Candidate(backend, ready, serving, conditions.get("terminating") is True)


def candidates(slices: Iterable[Json], namespace: str, port_name: str | None) -> list[Candidate]:
    """Every endpoint of `slices` that has an address and the served port, in a stable order."""
    found: list[Candidate] = []
    for endpoint_slice in slices:
        port = slice_port(endpoint_slice, port_name)
        if port is None:
            continue
        for endpoint in endpoint_slice.get("endpoints") or []:
            candidate = _candidate(endpoint, namespace, port)
            if candidate is not None:
                found.append(candidate)
    return sorted(found, key=lambda c: (c.backend.pod, c.backend.ip, c.backend.port))


def usable_backends(found: Iterable[Candidate]) -> list[Backend]:
    """Ready backends; when there is none, those serving while terminating; else none."""
    listed = list(found)
    ready = [c.backend for c in listed if c.ready]
    if ready:
        return _unique(ready)
    return _unique([c.backend for c in listed if c.serving and c.terminating])


def _unique(backends: list[Backend]) -> list[Backend]:
    """Drop duplicates (one pod may briefly sit in two slices during a slice rebalance)."""
    return list(dict.fromkeys(backends))
