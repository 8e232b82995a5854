"""The objects the sandbox adds to its cluster after the control plane is up.

- The shop's database Secret (``shop-database``, key ``url``), as a real cluster would hold it:
  the shop's Deployment reads its DSN from it unchanged.
- Aggregated APIs served by processes on the sandbox's bridge address (metrics-server's
  ``metrics.k8s.io`` and the proxy's ``custom.metrics.k8s.io``), registered the way an
  external endpoint is on any cluster (`aggregated_api`):

  - an ``APIService`` ``<version>.<group>`` pointing at the Service's port 443 and trusting
    the sandbox CA (``caBundle``);
  - that Service, of type ClusterIP (the aggregator refuses other types) and without a
    selector, whose port is *named* ``https``: the aggregator matches the slice's port by name;
  - one EndpointSlice labelled ``kubernetes.io/service-name`` with the same port name, the
    server's real port and one ready endpoint, the bridge address (loopback is invalid in a
    slice). Its ``endpointslice.kubernetes.io/managed-by: drills-sandbox`` label keeps the
    EndpointSlice controllers off it.

  With ``--enable-aggregator-routing`` the API server resolves the Service through
  EndpointSlices only, never core Endpoints (``k8s.io/apiserver/pkg/util/proxy.ResolveEndpoint``
  over an informer indexed by ``kubernetes.io/service-name``; the availability controller reads
  the same slices). It checks the server's certificate for ``<service>.<namespace>.svc``, so the
  serving certificate must carry the names `serving_dns_names` gives.

Each function returns plain manifests; `apply` sends them with the pinned kubectl, with
validation on.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drills.core.errors import DrillError

__all__ = ["aggregated_api", "apply", "apply_files", "database_secret", "serving_dns_names"]

Manifest = dict[str, Any]
_MANAGED_BY = "drills-sandbox"
_PORT_NAME = "https"
_SERVICE_PORT = 443


def database_secret(
    dsn: str, *, namespace: str, name: str = "shop-database", app: str = "shop"
) -> Manifest:
    """The Secret a Deployment reads its DSN from (key ``url``), labelled with its `app`."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
        "type": "Opaque",
        "stringData": {"url": dsn},
    }


def aggregated_api(  # noqa: PLR0913 - the coordinates of one aggregated API
    *,
    group: str,
    version: str,
    service: str,
    address: str,
    port: int,
    ca: Path,
    namespace: str = "kube-system",
) -> list[Manifest]:
    """Service, EndpointSlice and APIService for an API served at `address`:`port`.

    `ca` is the PEM file of the CA that signed the server's certificate. Apply them in the
    order given: the APIService turns Available once its Service resolves.
    """
    labels = {"app.kubernetes.io/managed-by": _MANAGED_BY}
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service, "namespace": namespace, "labels": labels},
            "spec": {
                "type": "ClusterIP",
                "ports": [
                    {
                        "name": _PORT_NAME,
                        "port": _SERVICE_PORT,
                        "protocol": "TCP",
                        "targetPort": port,
                    }
                ],
            },
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{service}-sandbox",
                "namespace": namespace,
                "labels": {
                    "kubernetes.io/service-name": service,
                    "endpointslice.kubernetes.io/managed-by": _MANAGED_BY,
                },
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [{"name": _PORT_NAME, "port": port, "protocol": "TCP"}],
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": f"{version}.{group}", "labels": labels},
            "spec": {
                "group": group,
                "version": version,
                "service": {"name": service, "namespace": namespace, "port": _SERVICE_PORT},
                "caBundle": base64.b64encode(ca.read_bytes()).decode(),
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        },
    ]


def serving_dns_names(service: str, namespace: str = "kube-system") -> tuple[str, ...]:
    """The names an aggregated server's certificate needs (the aggregator dials the .svc name)."""
    return (f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local", service)


def apply(kubectl: Path, kubeconfig: Path, manifests: Sequence[Manifest]) -> None:
    """``kubectl apply -f -`` of `manifests` as one List; a failure says what kubectl said."""
    document = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifests)})
    command = [str(kubectl), f"--kubeconfig={kubeconfig}", "apply", "-f", "-"]
    done = subprocess.run(
        command, input=document, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        kinds = ", ".join(f"{m['kind']}/{m['metadata']['name']}" for m in manifests)
        msg = f"kubectl apply of {kinds} failed: {done.stderr.strip()}"
        raise DrillError(msg)


def apply_files(kubectl: Path, kubeconfig: Path, folder: Path, namespace: str) -> None:
    """``kubectl apply -f FOLDER`` (validation on), as a user deploys the shop."""
    command = [
        str(kubectl),
        f"--kubeconfig={kubeconfig}",
        f"--namespace={namespace}",
        "apply",
        "-f",
        str(folder),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        msg = f"kubectl apply -f {folder} failed: {done.stderr.strip()}"
        raise DrillError(msg)
