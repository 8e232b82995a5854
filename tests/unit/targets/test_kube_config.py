"""KubeServiceConfig over fake client handles: the Secret is created or patched, base64 inside."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from typing import Any

from kubernetes.client.rest import ApiException

from drills.core.clock import FakeClock
from drills.targets.adapters.kube import KubeApi
from drills.targets.adapters.kube_config import (
    RESTARTED_AT,
    KubeServiceConfig,
    database_secret_of,
)


class FakeCore:
    """Secrets in a dict, as the API server keeps them (base64 under data)."""

    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, Any]] = {}

    def read_namespaced_secret(self, name: str, namespace: str) -> Any:
        if name not in self.secrets:
            raise ApiException(status=404, reason="Not Found")
        return SimpleNamespace(data=dict(self.secrets[name]["data"]))

    def create_namespaced_secret(self, namespace: str, body: dict[str, Any]) -> None:
        self.secrets[body["metadata"]["name"]] = {"data": dict(body["data"])}

    def patch_namespaced_secret(self, name: str, namespace: str, body: dict[str, Any]) -> None:
        self.secrets[name]["data"].update(body["data"])


class FakeApps:
    """One Deployment whose patches are recorded."""

    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    def patch_namespaced_deployment(self, name: str, namespace: str, body: Any) -> None:
        self.patches.append(body)

    def read_namespaced_deployment(self, name: str, namespace: str) -> Any:
        return SimpleNamespace(
            metadata=SimpleNamespace(
                generation=4, annotations={"deployment.kubernetes.io/revision": "2"}
            ),
            spec=SimpleNamespace(
                replicas=3,
                paused=None,
                template=SimpleNamespace(
                    spec=SimpleNamespace(containers=[SimpleNamespace(image="shop:1.0.0")])
                ),
            ),
            status=SimpleNamespace(
                observed_generation=3,
                updated_replicas=1,
                replicas=4,
                available_replicas=3,
                conditions=None,
            ),
        )


def _config() -> tuple[KubeServiceConfig, FakeCore, FakeApps]:
    core, apps = FakeCore(), FakeApps()
    api = KubeApi(core=core, apps=apps, autoscaling=None, context="drills-sandbox")
    return KubeServiceConfig(api, "default", "shop", clock=FakeClock()), core, apps


def test_a_missing_secret_reads_as_none_and_is_created_on_set() -> None:
    config, core, _ = _config()
    assert config.database_url() is None
    config.set_database_url("postgresql://app@db:5432/shop")
    stored = core.secrets["shop-database"]["data"]["url"]
    assert base64.b64decode(stored).decode() == "postgresql://app@db:5432/shop"
    assert config.database_url() == "postgresql://app@db:5432/shop"


def test_an_existing_secret_is_patched_in_place() -> None:
    config, core, _ = _config()
    core.secrets["shop-database"] = {"data": {"other": "eA=="}}
    config.set_database_url("postgresql://app@db2/shop")
    assert set(core.secrets["shop-database"]["data"]) == {"other", "url"}


def test_restart_stamps_the_pod_template_like_kubectl() -> None:
    config, _, apps = _config()
    stamp = config.restart()
    [patch] = apps.patches
    assert patch["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == stamp
    assert stamp.startswith("2026-01-01T00:00:00")


def test_rollout_reads_generation_and_replica_counts() -> None:
    config, _, _ = _config()
    state = config.rollout()
    assert not state.complete
    assert "1/3 updated, 4 total, 3 available" in state.describe()
    assert "generation 4 not yet observed" in state.describe()
    assert (state.revision, state.image) == (2, "shop:1.0.0")


def _with_env(*env: Any) -> KubeApi:
    """A Deployment whose one container sets `env` (read by database_secret_of)."""
    container = SimpleNamespace(image="notes:1.0", env=list(env))
    deployment = SimpleNamespace(
        spec=SimpleNamespace(template=SimpleNamespace(spec=SimpleNamespace(containers=[container])))
    )
    apps = SimpleNamespace(read_namespaced_deployment=lambda name, namespace: deployment)
    return KubeApi(core=FakeCore(), apps=apps, autoscaling=None, context="drills-sandbox")


def _from_secret(name: str, secret: str, key: str) -> Any:
    ref = SimpleNamespace(name=secret, key=key)
    return SimpleNamespace(name=name, value=None, value_from=SimpleNamespace(secret_key_ref=ref))


def test_the_repoint_writes_where_the_deployment_reads_its_database_url() -> None:
    plain = SimpleNamespace(name="PORT", value="8080", value_from=None)
    api = _with_env(plain, _from_secret("DATABASE_URL", "notes-database", "url"))
    assert database_secret_of(api, "default", "notes") == ("notes-database", "url")
    assert database_secret_of(api, "default", "notes", env="OTHER_URL") is None


def test_a_database_url_given_as_a_plain_value_names_no_secret() -> None:
    api = _with_env(SimpleNamespace(name="DATABASE_URL", value="postgresql://x", value_from=None))
    assert database_secret_of(api, "default", "notes") is None
