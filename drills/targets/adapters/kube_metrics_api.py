"""Kubernetes adapter for the MetricsApis port: APIServices, their EndpointSlices, the Deployment.

Which APIs an HPA reads follows from its metric sources: Resource and ContainerResource from
`metrics.k8s.io`, Pods and Object from `custom.metrics.k8s.io`, External from
`external.metrics.k8s.io` (`groups_for`). Taking an API down empties the endpoints of its
Service's EndpointSlices, which is what the EndpointSlice controller does when the serving
Deployment is scaled to 0; the sandbox registers metrics-server (a host process) through a
hand-written slice (`drills.sandbox.addons.aggregated_api`), so emptying it is the sandbox's
"scaled to 0". A slice a controller manages is refused: the controller would refill it at once.

`restore_metrics_apis` replays the fault's ledger entry (`drills rollback`): it puts the
recorded endpoints back unless they already are, so it acts at most once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from drills.core.errors import ConfigError, InjectionFailed
from drills.core.safety import Allowlist, Replayed, RollbackEntry
from drills.targets.adapters.kube import KubeApi, _call, connect
from drills.targets.ports.metrics_api import MetricsApiState, Serving

try:
    from kubernetes import client
    from kubernetes.client.rest import ApiException
except ImportError as exc:  # pragma: no cover - depends on the installed extra
    raise ImportError(
        "the metrics API adapter needs the k8s extra: pip install 'drills[k8s]'"
    ) from exc

__all__ = ["STOP_METRICS_KIND", "KubeMetricsApis", "groups_for", "restore_metrics_apis"]

STOP_METRICS_KIND = "stop-metrics-apis"  # = drills.faults.autoscaling.StopMetricsApis.kind
_NOT_FOUND = 404
_SERVICE_LABEL = "kubernetes.io/service-name"
_MANAGED_LABEL = "endpointslice.kubernetes.io/managed-by"
_CONTROLLERS = ("endpointslice-controller.k8s.io", "endpointslicemirroring-controller.k8s.io")
_GROUPS = {
    "Resource": "metrics.k8s.io",
    "ContainerResource": "metrics.k8s.io",
    "Pods": "custom.metrics.k8s.io",
    "Object": "custom.metrics.k8s.io",
    "External": "external.metrics.k8s.io",
}


def groups_for(sources: Iterable[str]) -> tuple[str, ...]:
    """The API groups an HPA with metrics of these sources reads (metrics.k8s.io when none)."""
    groups = {_GROUPS[s] for s in sources if s in _GROUPS}
    return tuple(sorted(groups or {"metrics.k8s.io"}))


class KubeMetricsApis:
    """The MetricsApis port for every APIService of `groups` that a Service backs."""

    def __init__(self, api: KubeApi, groups: tuple[str, ...]) -> None:
        self.api, self.groups = api, groups
        self._registration = client.ApiregistrationV1Api(api.core.api_client)
        self.names = tuple(sorted(str(s.metadata.name) for s in self._services()))

    def _services(self) -> list[Any]:
        listed = _call("list apiservices", self._registration.list_api_service)
        return [s for s in listed.items if s.spec.group in self.groups and s.spec.service]

    def states(self) -> tuple[MetricsApiState, ...]:
        """Each APIService's Available condition, its ready endpoints and its Deployment."""
        return tuple(self._state(s) for s in self._services())

    def _state(self, service: Any) -> MetricsApiState:
        ref = service.spec.service
        available = next(
            (c for c in service.status.conditions or [] if c.type == "Available"), None
        )
        said = "no Available condition" if available is None else f"{available.reason}"
        if available is not None and available.message:
            said += f": {available.message}"
        ready = sum(
            1
            for item in self._slices(ref.namespace, ref.name)
            for e in item.endpoints or []
            if e.conditions is None or e.conditions.ready is not False
        )
        return MetricsApiState(
            name=str(service.metadata.name),
            service=f"{ref.namespace}/{ref.name}",
            available=available is not None and available.status == "True",
            condition=said,
            ready_endpoints=ready,
            deployment=self._deployment(ref.namespace, ref.name),
        )

    def _slices(self, namespace: str, service: str) -> list[Any]:
        discovery = self.api.discovery
        listed = _call(
            f"list endpointslices of service/{service} in {namespace}",
            lambda: discovery.list_namespaced_endpoint_slice(
                namespace, label_selector=f"{_SERVICE_LABEL}={service}"
            ),
        )
        return list(listed.items)

    def _deployment(self, namespace: str, name: str) -> str:
        """`kubectl get deployment NAME -n NAMESPACE` in one line."""
        try:
            found = self.api.apps.read_namespaced_deployment(name, namespace)
        except ApiException as exc:
            if exc.status != _NOT_FOUND:
                return f"deployment/{name}: not readable (HTTP {exc.status})"
            return (
                f'deployment.apps "{name}" not found in {namespace}: served from outside the '
                "cluster (the sandbox runs it as a host process behind this Service)"
            )
        status = found.status
        return (
            f"deployment/{name} {status.ready_replicas or 0}/{found.spec.replicas} ready "
            f"in {namespace}"
        )

    def serving(self) -> dict[str, list[dict[str, Any]]]:
        """EndpointSlice `namespace/name` -> its endpoints, for every API of the groups."""
        serialise = self.api.core.api_client.sanitize_for_serialization
        kept: dict[str, list[dict[str, Any]]] = {}
        for service in self._services():
            ref = service.spec.service
            for item in self._slices(ref.namespace, ref.name):
                key = f"{item.metadata.namespace}/{item.metadata.name}"
                kept[key] = [serialise(e) for e in item.endpoints or []]
        return kept

    def stop(self, serving: Serving) -> None:
        """Empty every slice in `serving`; refuses controller-managed slices before touching any."""
        for key in serving:
            self._refuse_managed(key)
        for key in serving:
            self._set_endpoints(key, [])

    def restore(self, serving: Serving) -> bool:
        """Put the recorded endpoints back where they differ."""
        changed = False
        for key, endpoints in serving.items():
            if self._endpoints(key) != list(endpoints):
                self._set_endpoints(key, list(endpoints))
                changed = True
        return changed

    def _read_slice(self, key: str) -> Any:
        namespace, _, name = key.partition("/")
        discovery = self.api.discovery
        listed = _call(
            f"list endpointslices in {namespace}",
            lambda: discovery.list_namespaced_endpoint_slice(
                namespace, field_selector=f"metadata.name={name}"
            ),
        )
        if not listed.items:
            raise ConfigError(f"endpointslice {key} does not exist any more")
        return listed.items[0]

    def _endpoints(self, key: str) -> list[dict[str, Any]]:
        serialise = self.api.core.api_client.sanitize_for_serialization
        return [serialise(e) for e in self._read_slice(key).endpoints or []]

    def _refuse_managed(self, key: str) -> None:
        labels = self._read_slice(key).metadata.labels or {}
        if labels.get(_MANAGED_LABEL) in _CONTROLLERS:
            raise InjectionFailed(
                f"endpointslice {key} is managed by {labels[_MANAGED_LABEL]}, which would refill "
                "it at once; on this cluster take the metrics API down by scaling its "
                "Deployment to 0 (not automated: it lives outside the allowlisted namespaces)"
            )

    def _set_endpoints(self, key: str, endpoints: list[dict[str, Any]]) -> None:
        namespace, _, name = key.partition("/")
        patch = [{"op": "add", "path": "/endpoints", "value": endpoints}]
        discovery = self.api.discovery
        _call(
            f"set the endpoints of endpointslice {key}",
            lambda: discovery.patch_namespaced_endpoint_slice(name, namespace, patch),
        )


def restore_metrics_apis(entry: RollbackEntry, *, apis: KubeMetricsApis | None = None) -> Replayed:
    """Replay a `stop-metrics-apis` entry: the recorded endpoints back, unless they are."""
    try:
        serving = json.loads(str(entry.args.get("serving") or ""))
    except ValueError:
        serving = None
    if not isinstance(serving, dict) or not serving:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no endpoints")
    if apis is None:
        kubeconfig, context = entry.args.get("kubeconfig"), entry.args.get("context")
        if not kubeconfig or not context:
            raise ConfigError(
                f"the {entry.kind} entry for {entry.target} does not say which cluster it "
                f"touched; put the endpoints of {', '.join(serving)} back by hand: {serving}"
            )
        allowlist = Allowlist(kube_contexts=(str(context),))
        api = connect(Path(str(kubeconfig)), allowlist=allowlist, context=str(context))
        apis = KubeMetricsApis(api, ())
    return Replayed.RESTORED if apis.restore(serving) else Replayed.ALREADY
