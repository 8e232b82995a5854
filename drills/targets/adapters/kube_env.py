"""The ContainerEnv port: one env var of one named container, set with a JSON patch.

RUNBOOKS.md §3.18 step 2 is `kubectl patch deployment ... --type=json` adding `RATE_LIMIT` to
`/spec/template/spec/containers/0/env`. Index 0 is whichever container comes first; this
adapter finds the index of the container by name and puts a `test` operation on that name
first, so if the template changed between the read and the patch the API server refuses the
whole patch instead of writing into another container.
"""

from __future__ import annotations

import json
from typing import Any

from drills.core.errors import DrillError
from drills.targets.adapters.kube import KubeApi, _call, read_deployment

__all__ = ["KubeContainerEnv", "env_patch"]


def _literal(entry: Any) -> str | None:
    return None if entry.get("valueFrom") else str(entry.get("value", ""))


def env_patch(
    containers: list[dict[str, Any]], container: str, name: str, value: str | None
) -> list[dict[str, Any]]:
    """The JSON patch setting (None: removing) `name` in `container`; [] when nothing changes.

    `containers` is the pod template's list as JSON (`name`, `env` with `name`/`value`).
    Raises DrillError naming the containers there are when `container` is not one of them.
    """
    names = [str(c.get("name")) for c in containers]
    if container not in names:
        raise DrillError(
            f"no container {container!r} in the pod template (containers: {', '.join(names)})"
        )
    index = names.index(container)
    path = f"/spec/template/spec/containers/{index}"
    env = list(containers[index].get("env") or [])
    found = next((i for i, e in enumerate(env) if e.get("name") == name), None)
    guard = {"op": "test", "path": f"{path}/name", "value": container}
    if found is None:
        if value is None:
            return []
        if not env:
            return [guard, {"op": "add", "path": f"{path}/env", "value": [_var(name, value)]}]
        return [guard, {"op": "add", "path": f"{path}/env/-", "value": _var(name, value)}]
    at = f"{path}/env/{found}"
    check = {"op": "test", "path": f"{at}/name", "value": name}
    if value is None:
        return [guard, check, {"op": "remove", "path": at}]
    if _literal(env[found]) == value:
        return []
    return [guard, check, {"op": "replace", "path": at, "value": _var(name, value)}]


def _var(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}


class KubeContainerEnv:
    """Env vars of the containers of Deployment `name` in `namespace`."""

    def __init__(self, api: KubeApi, namespace: str, name: str) -> None:
        self.api, self.namespace, self.name = api, namespace, name

    @property
    def target(self) -> str:
        """`<namespace>/deployment/<name>`."""
        return f"{self.namespace}/deployment/{self.name}"

    def _containers(self) -> list[dict[str, Any]]:
        deployment = read_deployment(self.api, self.namespace, self.name)
        raw = self.api.apps.api_client.sanitize_for_serialization(
            deployment.spec.template.spec.containers
        )
        return list(raw)

    def containers(self) -> list[str]:
        """The pod template's container names, in order."""
        return [str(c["name"]) for c in self._containers()]

    def env(self, container: str, name: str) -> str | None:
        """The literal value of `name` in `container` (None: unset or from a reference)."""
        found = [c for c in self._containers() if c.get("name") == container]
        if not found:
            raise DrillError(f"no container {container!r} in deployment/{self.name}")
        entry = next((e for e in found[0].get("env") or [] if e.get("name") == name), None)
        return None if entry is None else _literal(entry)

    def patch_env(self, container: str, name: str, value: str | None) -> str:
        """Send the JSON patch (`kubectl patch --type=json`); return it as text ('' if none)."""
        patch = env_patch(self._containers(), container, name, value)
        if patch:
            _call(
                f"JSON-patch {name} in container {container} of deployment/{self.name}",
                lambda: self.api.apps.patch_namespaced_deployment(self.name, self.namespace, patch),
            )
        return json.dumps(patch) if patch else ""
