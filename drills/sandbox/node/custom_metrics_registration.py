"""The objects that register the custom-metrics server with the API server's aggregator.

kube-aggregator v0.37.2 with ``--enable-aggregator-routing`` resolves an APIService's Service
through EndpointSlices, never core Endpoints (``k8s.io/apiserver/pkg/util/proxy.ResolveEndpoint``
over an informer indexed by the ``kubernetes.io/service-name`` label; the availability
controller reads the same slices). So three objects must exist:

- the ``APIService`` per version (``v1beta2.custom.metrics.k8s.io``) pointing at Service
  ``kube-system/custom-metrics-apiserver`` port 443, trusting the sandbox CA (``caBundle``);
- that Service, of type ClusterIP (other types are refused) and without a selector, whose
  port 443 is *named* (``https``): the aggregator matches the slice's port by that name;
- one EndpointSlice labelled ``kubernetes.io/service-name`` with the same port name, the
  server's real port and one ready endpoint, the sandbox gateway address (loopback is invalid
  in a slice). Its ``endpointslice.kubernetes.io/managed-by: drills-sandbox`` label keeps the
  EndpointSlice controllers off it.

The aggregator checks the server's certificate for ``<service>.<namespace>.svc``
(`serving_dns_names`), so the serving certificate must carry that name.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from kubernetes import client

from drills.sandbox.node.custom_metrics_documents import GROUP

__all__ = [
    "MANAGED_BY",
    "aggregation_objects",
    "apply_objects",
    "serving_dns_names",
]

MANAGED_BY = "drills-sandbox"
_SERVICE_PORT = 443
_PORT_NAME = "https"
_PRIORITIES = {"v1beta2": 200, "v1beta1": 100}  # prometheus-adapter's: newer version preferred
JsonDict = dict[str, Any]


def serving_dns_names(
    namespace: str = "kube-system", service: str = "custom-metrics-apiserver"
) -> tuple[str, ...]:
    """The names the serving certificate needs (the aggregator dials ``<svc>.<ns>.svc``)."""
    return (f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local", service)


def _api_service(version: str, namespace: str, service: str, ca_bundle: bytes | None) -> JsonDict:
    spec: JsonDict = {
        "group": GROUP,
        "version": version,
        "service": {"namespace": namespace, "name": service, "port": _SERVICE_PORT},
        "groupPriorityMinimum": 100,
        "versionPriority": _PRIORITIES.get(version, 100),
    }
    if ca_bundle is None:
        spec["insecureSkipTLSVerify"] = True
    else:
        spec["caBundle"] = base64.b64encode(ca_bundle).decode()
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {
            "name": f"{version}.{GROUP}",
            "labels": {"app.kubernetes.io/managed-by": MANAGED_BY},
        },
        "spec": spec,
    }


def _service(namespace: str, service: str, port: int) -> JsonDict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service, "namespace": namespace, "labels": {"app": service}},
        "spec": {
            "type": "ClusterIP",
            "ports": [
                {"name": _PORT_NAME, "port": _SERVICE_PORT, "protocol": "TCP", "targetPort": port}
            ],
        },
    }


def _endpoint_slice(namespace: str, service: str, address: str, port: int) -> JsonDict:
    labels = {
        "kubernetes.io/service-name": service,
        "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
    }
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": service, "namespace": namespace, "labels": labels},
        "addressType": "IPv4",
        "ports": [{"name": _PORT_NAME, "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
    }


def aggregation_objects(  # noqa: PLR0913 - keyword-only facts of one registration
    *,
    gateway: str,
    port: int,
    ca_bundle: bytes | None,
    namespace: str = "kube-system",
    service: str = "custom-metrics-apiserver",
    versions: Iterable[str] = ("v1beta2",),
) -> list[JsonDict]:
    """The APIService(s), Service and EndpointSlice for a server at `gateway`:`port`.

    `ca_bundle` is the PEM of the CA that signed the server's certificate (the sandbox CA);
    None registers with ``insecureSkipTLSVerify`` instead. Apply them in the order given.
    """
    return [
        _service(namespace, service, port),
        _endpoint_slice(namespace, service, gateway, port),
        *(_api_service(version, namespace, service, ca_bundle) for version in versions),
    ]


def apply_objects(
    api_client: Any, objects: Iterable[JsonDict], *, manager: str = MANAGED_BY
) -> None:
    """Create or update `objects` with server-side apply (idempotent; `manager` owns fields)."""
    core = client.CoreV1Api(api_client)
    discovery = client.DiscoveryV1Api(api_client)
    registration = client.ApiregistrationV1Api(api_client)
    options = {
        "field_manager": manager,
        "force": True,
        "_content_type": "application/apply-patch+yaml",
    }
    for body in objects:
        name, namespace = body["metadata"]["name"], body["metadata"].get("namespace")
        match body["kind"]:
            case "Service":
                core.patch_namespaced_service(name, namespace, body, **options)
            case "EndpointSlice":
                discovery.patch_namespaced_endpoint_slice(name, namespace, body, **options)
            case "APIService":
                registration.patch_api_service(name, body, **options)
            case kind:
                raise ValueError(f"apply_objects does not know kind {kind}")
