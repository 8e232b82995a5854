"""Kubernetes adapter for the Routing port: Services, EndpointSlices, Ingresses, NetworkPolicies.

Works the same on the sandbox and on a real cluster (connect with `kube.connect`). A selector is
replaced whole by a JSON patch (a strategic merge would keep keys the new selector lacks), and a
target port is replaced after a JSON-patch `test` of the port's name, so a Service whose ports
moved meanwhile is refused rather than changed at the wrong index.

The replayers at the end undo the §3.12 faults from the ledger (`drills rollback`): each reads
first and acts only when the cluster differs from the entry, so it acts at most once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from drills.core.errors import ConfigError, DrillError
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.targets.adapters.entry_cluster import entry_api
from drills.targets.adapters.kube import KubeApi, _call, read_deployment
from drills.targets.ports.routing import EndpointView, PolicyView, ServicePortView, ServiceView

try:
    from kubernetes import client
    from kubernetes.client.rest import ApiException
except ImportError as exc:  # pragma: no cover - depends on the installed extra
    raise ImportError("the routing adapter needs the k8s extra: pip install 'drills[k8s]'") from exc

__all__ = [
    "CREATE_SERVICE_KIND",
    "DENY_ALL_KIND",
    "SELECTOR_KIND",
    "TARGET_PORT_KIND",
    "KubeRouting",
    "register_rollbacks",
]

SELECTOR_KIND = "service-selector"  # = drills.faults.routing.WrongSelector.kind
TARGET_PORT_KIND = "service-target-port"  # = drills.faults.routing.WrongTargetPort.kind
DENY_ALL_KIND = "deny-all-policy"  # = drills.faults.routing.DenyAllPolicy.kind
CREATE_SERVICE_KIND = "create-service"  # = drills.faults.routing.AddService.kind
_NOT_FOUND = 404
_SERVICE_NAME = "kubernetes.io/service-name"


def _selector_text(selector: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


class KubeRouting:
    """The Routing port for namespace `namespace` through the official client."""

    def __init__(self, api: KubeApi, namespace: str) -> None:
        self.api, self.namespace = api, namespace
        self._networking = client.NetworkingV1Api(api.core.api_client)

    # -- reading -------------------------------------------------------------------------------
    def services(self) -> tuple[ServiceView, ...]:
        """Every Service of the namespace, by name."""
        listed = _call(
            "list services", lambda: self.api.core.list_namespaced_service(self.namespace)
        )
        return tuple(sorted((_service_view(s) for s in listed.items), key=lambda s: s.name))

    def service(self, name: str) -> ServiceView | None:
        """Service `name` (a list by field selector); None when absent."""
        listed = _call(
            f"list service/{name}",
            lambda: self.api.core.list_namespaced_service(
                self.namespace, field_selector=f"metadata.name={name}"
            ),
        )
        return _service_view(listed.items[0]) if listed.items else None

    def endpoints(self, service: str) -> tuple[EndpointView, ...]:
        """Endpoints of the Service's slices, with the port listed under its first port's name."""
        found = self.service(service)
        port_name = found.ports[0].name if found is not None and found.ports else None
        listed = _call(
            f"list endpointslices of service/{service}",
            lambda: self.api.discovery.list_namespaced_endpoint_slice(
                self.namespace, label_selector=f"{_SERVICE_NAME}={service}"
            ),
        )
        views = [v for item in listed.items for v in _endpoint_views(item, port_name)]
        return tuple(sorted(views, key=lambda v: (v.ip, v.port or 0)))

    def pods_selected(self, selector: Mapping[str, str]) -> tuple[str, ...]:
        """Non-terminating pods `selector` matches; none for an empty selector."""
        if not selector:
            return ()
        text = _selector_text(selector)
        listed = _call(
            f"list pods {text}",
            lambda: self.api.core.list_namespaced_pod(self.namespace, label_selector=text),
        )
        live = [p for p in listed.items if p.metadata.deletion_timestamp is None]
        return tuple(sorted(str(p.metadata.name) for p in live))

    def pod_labels_of(self, deployment: str) -> dict[str, str]:
        """The Deployment's `matchLabels`: what its pods carry and a Service must select."""
        found = read_deployment(self.api, self.namespace, deployment)
        return dict(found.spec.selector.match_labels or {})

    def container_ports_of(self, deployment: str) -> dict[str, int]:
        """The first container's ports: name (its number when unnamed) -> container port."""
        found = read_deployment(self.api, self.namespace, deployment)
        ports = found.spec.template.spec.containers[0].ports or []
        return {str(p.name or p.container_port): int(p.container_port) for p in ports}

    def ingresses(self) -> tuple[str, ...]:
        """`kubectl get ingress -o wide`: one line per Ingress with its backends."""
        listed = _call(
            "list ingresses",
            lambda: self._networking.list_namespaced_ingress(self.namespace),
        )
        return tuple(sorted(_ingress_line(i) for i in listed.items))

    def policies(self) -> tuple[PolicyView, ...]:
        """Every NetworkPolicy of the namespace, by name."""
        listed = _call(
            "list networkpolicies",
            lambda: self._networking.list_namespaced_network_policy(self.namespace),
        )
        return tuple(sorted((_policy_view(p) for p in listed.items), key=lambda p: p.name))

    # -- changing ------------------------------------------------------------------------------
    def set_selector(self, service: str, selector: Mapping[str, str]) -> None:
        """Replace the whole selector (JSON patch), as `kubectl patch svc --type=json` does."""
        body = [{"op": "replace", "path": "/spec/selector", "value": dict(selector)}]
        _call(
            f"patch the selector of service/{service}",
            lambda: self.api.core.patch_namespaced_service(service, self.namespace, body),
        )

    def set_target_port(self, service: str, port_name: str, target: int | str) -> None:
        """Point Service port `port_name` at `target`; refused when the port moved meanwhile."""
        found = self.service(service)
        names = [p.name for p in found.ports] if found is not None else []
        if port_name not in names:
            raise DrillError(f"service/{service} has no port named {port_name!r} ({names})")
        index = names.index(port_name)
        body = [
            {"op": "test", "path": f"/spec/ports/{index}/name", "value": port_name},
            {"op": "replace", "path": f"/spec/ports/{index}/targetPort", "value": target},
        ]
        _call(
            f"patch the targetPort of service/{service} port {port_name}",
            lambda: self.api.core.patch_namespaced_service(service, self.namespace, body),
        )

    def create_policy(self, manifest: Mapping[str, Any]) -> None:
        """Create a NetworkPolicy in the namespace."""
        name = manifest.get("metadata", {}).get("name")
        _call(
            f"create networkpolicy/{name}",
            lambda: self._networking.create_namespaced_network_policy(
                self.namespace, dict(manifest)
            ),
        )

    def delete_policy(self, name: str) -> bool:
        """Delete NetworkPolicy `name` alone (never `--all`); False when already gone."""
        return self._delete(
            f"networkpolicy/{name}",
            lambda: self._networking.delete_namespaced_network_policy(name, self.namespace),
        )

    def create_service(self, manifest: Mapping[str, Any]) -> None:
        """Create a Service in the namespace."""
        name = manifest.get("metadata", {}).get("name")
        _call(
            f"create service/{name}",
            lambda: self.api.core.create_namespaced_service(self.namespace, dict(manifest)),
        )

    def delete_service(self, name: str) -> bool:
        """Delete Service `name`; False when already gone."""
        return self._delete(
            f"service/{name}",
            lambda: self.api.core.delete_namespaced_service(name, self.namespace),
        )

    def _delete(self, what: str, action: Any) -> bool:
        def attempt() -> bool:
            try:
                action()
            except ApiException as exc:
                if exc.status == _NOT_FOUND:
                    return False
                raise
            return True

        return bool(_call(f"delete {what}", attempt))


def _service_view(service: Any) -> ServiceView:
    ports = tuple(
        ServicePortView(
            name=str(p.name or ""),
            port=int(p.port),
            target_port=_port_value(p.target_port if p.target_port is not None else p.port),
        )
        for p in service.spec.ports or []
    )
    selector = {str(k): str(v) for k, v in (service.spec.selector or {}).items()}
    return ServiceView(str(service.metadata.name), selector, ports)


def _port_value(value: Any) -> int | str:
    """An IntOrString as the client returns it: digits are a port number."""
    text = str(value)
    return int(text) if text.isdigit() else text


def _endpoint_views(endpoint_slice: Any, port_name: str | None) -> list[EndpointView]:
    ports = endpoint_slice.ports or []
    port = next((p.port for p in ports if port_name is None or (p.name or "") == port_name), None)
    views = []
    for endpoint in endpoint_slice.endpoints or []:
        if not endpoint.addresses:
            continue
        conditions = endpoint.conditions
        ready = conditions is None or conditions.ready is not False
        pod = endpoint.target_ref.name if endpoint.target_ref is not None else ""
        views.append(EndpointView(str(endpoint.addresses[0]), port, str(pod or ""), ready))
    return views


def _ingress_line(ingress: Any) -> str:
    spec = ingress.spec
    backends = []
    default = spec.default_backend
    if default is not None and default.service is not None:
        backends.append(f"default->{_backend(default.service)}")
    for rule in spec.rules or []:
        for path in (rule.http.paths if rule.http else None) or []:
            if path.backend.service is not None:
                host = rule.host or "*"
                backends.append(f"{host}{path.path or '/'}->{_backend(path.backend.service)}")
    return f"ingress/{ingress.metadata.name} class {spec.ingress_class_name or '<none>'} " + (
        " ".join(backends) or "no backend"
    )


def _backend(service: Any) -> str:
    port = service.port
    said = "" if port is None else (port.name or str(port.number))
    return f"service/{service.name}:{said}"


def _policy_view(policy: Any) -> PolicyView:
    spec = policy.spec
    labels = spec.pod_selector.match_labels if spec.pod_selector is not None else None
    return PolicyView(
        name=str(policy.metadata.name),
        pod_selector={str(k): str(v) for k, v in (labels or {}).items()},
        policy_types=tuple(spec.policy_types or ()),
        ingress_rules=len(spec.ingress or []),
        egress_rules=len(spec.egress or []),
    )


# -- replaying the §3.12 faults' rollbacks ----------------------------------------------------
def _target(entry: RollbackEntry, kind: str) -> tuple[str, str]:
    namespace, found, name = [*entry.target.split("/"), "", "", ""][:3]
    if found != kind or not namespace or not name:
        raise ConfigError(f"rollback target {entry.target!r} is not <namespace>/{kind}/<name>")
    return namespace, name


def _routing(entry: RollbackEntry, namespace: str, by_hand: str) -> KubeRouting:
    """The namespace on the cluster the entry names, checked against exactly what was recorded."""
    return KubeRouting(entry_api(entry, namespace, f"kubectl -n {namespace} {by_hand}"), namespace)


def restore_selector(entry: RollbackEntry, *, routing: KubeRouting | None = None) -> Replayed:
    """Put the recorded selector back on the Service, unless it has it."""
    namespace, name = _target(entry, "service")
    try:
        selector = json.loads(str(entry.args.get("selector") or ""))
    except ValueError:
        selector = None
    if not isinstance(selector, dict) or not selector:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no selector")
    patch = json.dumps([{"op": "replace", "path": "/spec/selector", "value": selector}])
    routing = routing or _routing(entry, namespace, f"patch svc {name} --type=json -p '{patch}'")
    found = routing.service(name)
    if found is None or dict(found.selector) == selector:
        return Replayed.ALREADY
    routing.set_selector(name, {str(k): str(v) for k, v in selector.items()})
    return Replayed.RESTORED


def restore_target_port(entry: RollbackEntry, *, routing: KubeRouting | None = None) -> Replayed:
    """Put the recorded targetPort back on the Service port, unless it has it."""
    namespace, name = _target(entry, "service")
    port_name = str(entry.args.get("port_name") or "")
    target = entry.args.get("target_port")
    if not port_name or not isinstance(target, (int, str)) or isinstance(target, bool):
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no target port")
    by_hand = f"edit svc {name}: port {port_name} targetPort {target}"
    routing = routing or _routing(entry, namespace, by_hand)
    found = routing.service(name)
    port = next((p for p in found.ports if p.name == port_name), None) if found else None
    if port is None or port.target_port == target:
        return Replayed.ALREADY
    routing.set_target_port(name, port_name, target)
    return Replayed.RESTORED


def remove_policy(entry: RollbackEntry, *, routing: KubeRouting | None = None) -> Replayed:
    """Delete the NetworkPolicy the fault created (that one alone), unless it is gone."""
    namespace, name = _target(entry, "networkpolicy")
    routing = routing or _routing(entry, namespace, f"delete networkpolicy {name}")
    return Replayed.RESTORED if routing.delete_policy(name) else Replayed.ALREADY


def remove_service(entry: RollbackEntry, *, routing: KubeRouting | None = None) -> Replayed:
    """Delete the Service the harness created, unless it is gone."""
    namespace, name = _target(entry, "service")
    routing = routing or _routing(entry, namespace, f"delete service {name}")
    return Replayed.RESTORED if routing.delete_service(name) else Replayed.ALREADY


def register_rollbacks(registry: RollbackRegistry) -> None:
    """Register the §3.12 kinds this module can replay."""
    registry.register(SELECTOR_KIND, restore_selector)
    registry.register(TARGET_PORT_KIND, restore_target_port)
    registry.register(DENY_ALL_KIND, remove_policy)
    registry.register(CREATE_SERVICE_KIND, remove_service)
