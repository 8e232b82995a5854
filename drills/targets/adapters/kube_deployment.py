"""Kubernetes adapter for the DeploymentObject port: one Deployment deleted and re-created.

RUNBOOKS.md §3.2 `deployment-deleted`: the fault deletes the Deployment (its ReplicaSets and pods
follow through the garbage collector, as after `kubectl delete deployment`); the runbook's
recovery applies the manifest from the repository again, and the fault's rollback re-creates
the object it read before the deletion. Both go through `restore`, the part of `kubectl apply`
the drill needs: create when absent, else put the manifest's spec back (one JSON patch, so the
same `patch` permission as every other template change).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from drills.core.errors import ConfigError
from drills.targets.adapters.kube import KubeApi, _call

try:
    import yaml
    from kubernetes.client.rest import ApiException
except ImportError as exc:  # pragma: no cover - depends on the installed extra
    raise ImportError(
        "the Deployment adapter needs the k8s extra: pip install 'drills[k8s]'"
    ) from exc

__all__ = ["KubeDeployment", "deployment_manifest", "load_manifest"]

_NOT_FOUND = 404
_SERVER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)  # the controller writes it


def deployment_manifest(body: Mapping[str, Any]) -> dict[str, Any]:
    """What `kubectl apply` would take from a Deployment as the API server returns it.

    Server-set metadata (uid, resourceVersion, creationTimestamp, managedFields, generation)
    and the controller's revision annotation are dropped; a re-created object gets its own.
    """
    metadata = body.get("metadata") or {}
    annotations = {
        k: v for k, v in (metadata.get("annotations") or {}).items() if k not in _SERVER_ANNOTATIONS
    }
    kept: dict[str, Any] = {"name": metadata.get("name")}
    if metadata.get("labels"):
        kept["labels"] = dict(metadata["labels"])
    if annotations:
        kept["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": kept,
        "spec": dict(body.get("spec") or {}),
    }


def load_manifest(path: Path, *, kind: str = "Deployment") -> dict[str, Any]:
    """The first document of `kind` in a YAML file (`kubectl apply -f FILE` reads the same)."""
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the manifest {path}: {exc}") from exc
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == kind:
            return document
    raise ConfigError(f"{path} holds no {kind}; point the drill at the shop's manifests")


class KubeDeployment:
    """The DeploymentObject port for Deployment `name` in `namespace`."""

    def __init__(self, api: KubeApi, namespace: str, name: str) -> None:
        self.api, self.namespace, self.name = api, namespace, name

    def _read(self) -> Any:
        """The Deployment model, or None when it does not exist (HTTP 404)."""

        def read() -> Any:
            try:
                return self.api.apps.read_namespaced_deployment(self.name, self.namespace)
            except ApiException as exc:
                if exc.status == _NOT_FOUND:
                    return None
                raise

        return _call(f"read deployment/{self.name}", read)

    def manifest(self) -> dict[str, Any] | None:
        """The Deployment as `kubectl apply` would take it; None when absent."""
        found = self._read()
        if found is None:
            return None
        return deployment_manifest(self.api.apps.api_client.sanitize_for_serialization(found))

    def delete(self) -> None:
        """Delete the Deployment; its ReplicaSets and pods go in the background, as kubectl's."""
        _call(
            f"delete deployment/{self.name}",
            lambda: self.api.apps.delete_namespaced_deployment(
                self.name, self.namespace, propagation_policy="Background"
            ),
        )

    def restore(self, manifest: Mapping[str, Any]) -> None:
        """Create the Deployment from `manifest`, or put the manifest's spec back if it exists."""
        named = (manifest.get("metadata") or {}).get("name")
        if named != self.name:
            raise ConfigError(f"the manifest names deployment {named!r}, not {self.name!r}")
        apps = self.api.apps
        if self._read() is None:
            metadata = {**manifest["metadata"], "namespace": self.namespace}
            body = {**manifest, "metadata": metadata}
            _call(
                f"create deployment/{self.name}",
                lambda: apps.create_namespaced_deployment(self.namespace, body),
            )
            return
        patch = [{"op": "replace", "path": "/spec", "value": dict(manifest["spec"])}]
        _call(
            f"put the spec of deployment/{self.name} back",
            lambda: apps.patch_namespaced_deployment(self.name, self.namespace, patch),
        )
