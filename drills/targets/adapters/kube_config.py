"""ServiceConfig port over Kubernetes: a Secret holds the database URL, the Deployment restarts.

The Secret's key is written base64-encoded under `data`, as `kubectl create secret` stores it.
`restart()` stamps the pod template with `kubectl.kubernetes.io/restartedAt`, exactly what
`kubectl rollout restart` does, and `rollout()` reads what `kubectl rollout status` reads.
"""

from __future__ import annotations

import base64
from typing import Any

from drills.core.clock import DrillClock, SystemClock
from drills.core.errors import DrillError
from drills.targets.adapters.kube import KubeApi, _call
from drills.targets.adapters.kube_rollout import rollout_status_from
from drills.targets.ports.rollout import RolloutStatus

__all__ = ["DATABASE_URL_ENV", "RESTARTED_AT", "KubeServiceConfig", "database_secret_of"]

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
DATABASE_URL_ENV = "DATABASE_URL"


def database_secret_of(
    api: KubeApi, namespace: str, deployment: str, env: str = DATABASE_URL_ENV
) -> tuple[str, str] | None:
    """(Secret, key) the Deployment's containers read `env` from, None when none does.

    A repoint writes where the service reads its DSN: the `secretKeyRef` of that variable in the
    pod template, so no Secret name has to be known in advance. The first container that sets
    the variable from a Secret wins.
    """
    found = _call(
        f"read deployment/{deployment}",
        lambda: api.apps.read_namespaced_deployment(deployment, namespace),
    )
    spec = found.spec.template.spec if found.spec and found.spec.template else None
    for container in (spec.containers or []) if spec else []:
        for var in container.env or []:
            source = var.value_from.secret_key_ref if var.name == env and var.value_from else None
            if source is not None and source.name and source.key:
                return str(source.name), str(source.key)
    return None


class KubeServiceConfig:
    """The database URL in Secret `secret` (key `key`) of the Deployment `deployment`."""

    def __init__(  # noqa: PLR0913 - keyword-only names of the objects involved
        self,
        api: KubeApi,
        namespace: str,
        deployment: str,
        *,
        secret: str = "shop-database",
        key: str = "url",
        clock: DrillClock | None = None,
    ) -> None:
        self.api, self.namespace, self.deployment = api, namespace, deployment
        self.secret, self.key = secret, key
        self.clock = clock or SystemClock()

    @property
    def where(self) -> str:
        """`namespace/secret/name[key]`."""
        return f"{self.namespace}/secret/{self.secret}[{self.key}]"

    def _read_secret(self) -> Any | None:
        try:
            return _call(
                f"read secret/{self.secret}",
                lambda: self.api.core.read_namespaced_secret(self.secret, self.namespace),
            )
        except DrillError as exc:
            if "404" in str(exc):
                return None
            raise

    def database_url(self) -> str | None:
        """The decoded value of the key, None when the Secret or the key is missing."""
        secret = self._read_secret()
        data = (secret.data or {}) if secret is not None else {}
        raw = data.get(self.key)
        return None if raw is None else base64.b64decode(raw).decode()

    def set_database_url(self, url: str) -> None:
        """Patch the key into the Secret, creating the Secret when it does not exist."""
        encoded = base64.b64encode(url.encode()).decode()
        if self._read_secret() is None:
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": self.secret, "namespace": self.namespace},
                "data": {self.key: encoded},
            }
            _call(
                f"create secret/{self.secret}",
                lambda: self.api.core.create_namespaced_secret(self.namespace, body),
            )
            return
        patch = {"data": {self.key: encoded}}
        _call(
            f"patch secret/{self.secret}",
            lambda: self.api.core.patch_namespaced_secret(self.secret, self.namespace, patch),
        )

    def restart(self) -> str:
        """Stamp the pod template with restartedAt (a new ReplicaSet rolls out); return it."""
        stamp = self.clock.wall().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        _call(
            f"rollout restart deployment/{self.deployment}",
            lambda: self.api.apps.patch_namespaced_deployment(
                self.deployment, self.namespace, body
            ),
        )
        return stamp

    def rollout(self) -> RolloutStatus:
        """The Deployment's generation, replica counts, revision and template image."""
        deployment = _call(
            f"read deployment/{self.deployment}",
            lambda: self.api.apps.read_namespaced_deployment(self.deployment, self.namespace),
        )
        return rollout_status_from(deployment)
