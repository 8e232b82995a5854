"""What runs in a namespace, for `drills init`: Deployments with their Services and HPAs.

Read-only (list Deployments, Services, HorizontalPodAutoscalers). A Service belongs to a
Deployment when its selector matches the pod template's labels; an HPA when its
scaleTargetRef names the Deployment. Probe paths and the first container port come from the
pod template, the environment variable names (never their values) from its first container.
"""

from __future__ import annotations

from typing import Any

from drills.core.service_init import FoundDeployment
from drills.targets.adapters.kube import KubeApi, _call

__all__ = ["inventory"]


def _probe_path(container: Any, name: str) -> str | None:
    probe = getattr(container, name, None)
    http = getattr(probe, "http_get", None) if probe is not None else None
    return str(http.path) if http is not None and http.path else None


def _found(deployment: Any, services: list[Any], hpas: list[Any]) -> FoundDeployment:
    template = deployment.spec.template
    labels = dict(template.metadata.labels or {})
    container = template.spec.containers[0]
    ports = [int(p.container_port) for p in container.ports or []]
    name = str(deployment.metadata.name)
    matching = [
        s
        for s in services
        if s.spec.selector and all(labels.get(k) == v for k, v in s.spec.selector.items())
    ]
    return FoundDeployment(
        name=name,
        namespace=str(deployment.metadata.namespace),
        replicas=int(deployment.spec.replicas or 0),
        image=str(container.image),
        port=ports[0] if ports else None,
        health_path=_probe_path(container, "liveness_probe"),
        ready_path=_probe_path(container, "readiness_probe"),
        services=tuple(str(s.metadata.name) for s in matching),
        service_port=_service_port(matching),
        hpas=tuple(
            str(h.metadata.name)
            for h in hpas
            if h.spec.scale_target_ref.kind == "Deployment" and h.spec.scale_target_ref.name == name
        ),
        env_names=tuple(str(e.name) for e in container.env or []),
    )


def inventory(api: KubeApi, namespace: str) -> list[FoundDeployment]:
    """Every Deployment of `namespace`, by name, with what `drills init` needs to describe it."""
    deployments = _call(
        f"list deployments in {namespace}", lambda: api.apps.list_namespaced_deployment(namespace)
    ).items
    services = _call(
        f"list services in {namespace}", lambda: api.core.list_namespaced_service(namespace)
    ).items
    hpas = _call(
        f"list horizontalpodautoscalers in {namespace}",
        lambda: api.autoscaling.list_namespaced_horizontal_pod_autoscaler(namespace),
    ).items
    found = [_found(d, services, hpas) for d in deployments]
    return sorted(found, key=lambda f: f.name)


def _service_port(services: list[Any]) -> int | None:
    if not services or not services[0].spec.ports:
        return None
    return int(services[0].spec.ports[0].port)
