"""Port for the aggregated metrics APIs an HPA reads (RUNBOOKS.md §3.9 `no-metrics`).

An HPA reads CPU from `metrics.k8s.io` (metrics-server) and per-pod or object metrics from
`custom.metrics.k8s.io` (an adapter such as prometheus-adapter). Each is an APIService backed by
a Service in `kube-system`; what serves it are the ready addresses of that Service's
EndpointSlices. With none, the API server answers 503 for the group: `kubectl top` has no
figures and the HPA controller cannot compute a recommendation (ScalingActive False).

`serving()` is what the fault keeps to put back: per EndpointSlice (`namespace/name`), its
endpoints as the API server holds them (plain JSON, so a ledger entry can carry it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["MetricsApiState", "MetricsApis", "Serving"]

Serving = Mapping[str, list[dict[str, Any]]]
"""EndpointSlice `namespace/name` -> its `endpoints` (the JSON the API server returns)."""


@dataclass(frozen=True)
class MetricsApiState:
    """One APIService as `kubectl get apiservice` and `kubectl get deployment` show it."""

    name: str  # e.g. v1beta1.metrics.k8s.io
    service: str  # namespace/name of the Service behind it
    available: bool
    condition: str  # the Available condition's reason and message
    ready_endpoints: int
    deployment: str  # `kubectl get deployment <service> -n <namespace>`, one line

    def describe(self) -> str:
        """`v1beta1.metrics.k8s.io Available False (MissingEndpoints ...), 0 ready endpoints`."""
        said = "True" if self.available else "False"
        return (
            f"apiservice/{self.name} Available {said} ({self.condition}); service/{self.service} "
            f"{self.ready_endpoints} ready endpoint(s); {self.deployment}"
        )


class MetricsApis(Protocol):
    """The metrics APIs one HPA reads, as a fault takes them down and a fix brings them back."""

    names: tuple[str, ...]  # the APIServices, e.g. ("v1beta1.metrics.k8s.io",)

    def states(self) -> tuple[MetricsApiState, ...]:
        """Each API's availability, endpoints and the Deployment that would serve it."""
        ...

    def serving(self) -> dict[str, list[dict[str, Any]]]:
        """The endpoints serving the APIs now (see the module doc)."""
        ...

    def stop(self, serving: Serving) -> None:
        """Empty the EndpointSlices in `serving`, as a Deployment scaled to 0 leaves them.

        Raises InjectionFailed for a slice a controller manages (it would refill it at once: on
        such a cluster scale the serving Deployment instead).
        """
        ...

    def restore(self, serving: Serving) -> bool:
        """Put the recorded endpoints back where they differ; True when anything changed."""
        ...
