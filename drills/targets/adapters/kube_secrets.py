"""SecretStore port over Kubernetes: Secrets holding a database URL, and which one a pod reads.

`read_from(secret)` is the safe form of the seed's `kubectl set env deployment/backend
--from=secret/NAME`: with `--prefix=DATABASE_`, the Secret's key `url` becomes the one variable
the shop reads, `DATABASE_URL`, as a `secretKeyRef` (a literal `--from` would add a variable
`URL` nobody reads). Reading, writing and restarting go through `KubeServiceConfig`.
"""

from __future__ import annotations

from typing import Any

from drills.core.clock import DrillClock, SystemClock
from drills.core.errors import DrillError
from drills.targets.adapters.kube import KubeApi, _call
from drills.targets.adapters.kube_config import KubeServiceConfig
from drills.targets.ports.rollout import RolloutStatus

__all__ = ["KubeSecretStore"]


class KubeSecretStore:
    """The URL Secrets of `namespace` and the Deployment whose env var `env` reads one."""

    def __init__(  # noqa: PLR0913 - keyword-only names of the objects involved
        self,
        api: KubeApi,
        namespace: str,
        deployment: str,
        *,
        key: str = "url",
        env: str = "DATABASE_URL",
        clock: DrillClock | None = None,
    ) -> None:
        self.api, self._namespace, self.deployment = api, namespace, deployment
        self.key, self.env = key, env
        self.clock = clock or SystemClock()

    @property
    def namespace(self) -> str:
        """The namespace of the Secrets and the Deployment."""
        return self._namespace

    def _config(self, secret: str) -> KubeServiceConfig:
        return KubeServiceConfig(
            self.api,
            self._namespace,
            self.deployment,
            secret=secret,
            key=self.key,
            clock=self.clock,
        )

    def read(self, secret: str) -> str | None:
        """The URL under the key, None when the Secret or the key is missing."""
        return self._config(secret).database_url()

    def write(self, secret: str, url: str) -> None:
        """Patch the URL into the Secret (created when missing)."""
        self._config(secret).set_database_url(url)

    def delete(self, secret: str) -> bool:
        """Delete the Secret; False when it was not there."""
        try:
            _call(
                f"delete secret/{secret}",
                lambda: self.api.core.delete_namespaced_secret(secret, self._namespace),
            )
        except DrillError as exc:
            if "404" in str(exc):
                return False
            raise
        return True

    def _container(self) -> Any:
        deployment = _call(
            f"read deployment/{self.deployment}",
            lambda: self.api.apps.read_namespaced_deployment(self.deployment, self._namespace),
        )
        return deployment.spec.template.spec.containers[0]

    def source(self) -> str | None:
        """The Secret `env` of the first container is read from (None: not from a Secret)."""
        found = next((e for e in self._container().env or [] if e.name == self.env), None)
        ref = found.value_from.secret_key_ref if found and found.value_from else None
        return None if ref is None else str(ref.name)

    def read_from(self, secret: str) -> None:
        """Point `env` at key `key` of Secret `secret` (a strategic-merge patch of the template)."""
        container = self._container()
        source = {"secretKeyRef": {"name": secret, "key": self.key}}
        env = [{"name": self.env, "valueFrom": source}]
        body = {
            "spec": {"template": {"spec": {"containers": [{"name": container.name, "env": env}]}}}
        }
        _call(
            f"set env {self.env} of deployment/{self.deployment} from secret/{secret}",
            lambda: self.api.apps.patch_namespaced_deployment(
                self.deployment, self._namespace, body
            ),
        )

    def restart(self) -> str:
        """`kubectl rollout restart`: stamp the template with restartedAt."""
        return self._config("").restart()

    def rollout(self) -> RolloutStatus:
        """The Deployment's rollout reading."""
        return self._config("").rollout()
