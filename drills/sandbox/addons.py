"""The objects the sandbox adds to its cluster after the control plane is up.

- The shop's database Secret (``shop-database``, key ``url``), as a real cluster would hold it:
  the shop's Deployment reads its DSN from it unchanged.
- Aggregated APIs served by processes on the sandbox's bridge address (metrics-server's
  ``metrics.k8s.io`` and the proxy's ``custom.metrics.k8s.io``): an APIService, a Service with
  no selector, and an EndpointSlice that names the address and port by hand, the way an
  external endpoint is registered on any cluster. The API server routes to the slice's address
  (``--enable-aggregator-routing``).

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

__all__ = ["aggregated_api", "apply", "database_secret"]

Manifest = dict[str, Any]
_MANAGED_BY = "drills-sandbox"


def database_secret(dsn: str, *, namespace: str, name: str = "shop-database") -> Manifest:
    """The Secret the shop's Deployment reads its DSN from (key ``url``)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "shop"}},
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
    """APIService + selector-less Service + EndpointSlice for an API served at address:port."""
    labels = {"app.kubernetes.io/managed-by": _MANAGED_BY}
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service, "namespace": namespace, "labels": labels},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]},
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
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": f"{version}.{group}", "labels": labels},
            "spec": {
                "group": group,
                "version": version,
                "service": {"name": service, "namespace": namespace, "port": 443},
                "caBundle": base64.b64encode(ca.read_bytes()).decode(),
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        },
    ]


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
