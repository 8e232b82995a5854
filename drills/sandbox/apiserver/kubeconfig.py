"""Write the kubeconfig that points kubectl and the official client at the sandbox API server."""

from __future__ import annotations

from pathlib import Path

import yaml

__all__ = ["CONTEXT", "TOKEN", "kubeconfig_text", "write_kubeconfig"]

CONTEXT = "drills-sandbox"
TOKEN = "drills-sandbox-token"


def kubeconfig_text(server_url: str, *, namespace: str = "default") -> str:
    """A kubeconfig with one cluster, user and context (`drills-sandbox`)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server_url}}],
        "users": [{"name": CONTEXT, "user": {"token": TOKEN}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def write_kubeconfig(path: Path, server_url: str, *, namespace: str = "default") -> Path:
    """Write the kubeconfig to `path` (parents created, mode 0600) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(kubeconfig_text(server_url, namespace=namespace), encoding="utf-8")
    path.chmod(0o600)
    return path
