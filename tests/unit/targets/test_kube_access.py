"""The SelfSubjectAccessReview adapter, and the client calls behind every declared permission."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from kubernetes import client

from drills.core.access import AccessDecision, Permission
from drills.core.access_needs import DRILL_NEEDS, SHOP_DATABASE_SECRET, VARIANT_NEEDS
from drills.core.errors import ConfigError
from drills.core.safety import Allowlist
from drills.targets.adapters import kube_access
from drills.targets.adapters.kube import KubeApi
from drills.targets.adapters.kube_access import (
    CLIENT_CALLS,
    connect_for_review,
    review_access,
    who_am_i,
)
from drills.targets.adapters.kube_config import KubeServiceConfig

ADAPTERS = Path(kube_access.__file__).parent
# namespaced calls, and the cluster-scoped ones an adapter may make (nodes, APIServices)
_CALL = re.compile(
    r"\b(?:read|list|create|patch|replace|delete)_(?:namespaced_[a-z_]+|node|node_status|api_service)\b"
)


def _called_methods() -> set[str]:
    return {m for path in ADAPTERS.glob("*.py") for m in _CALL.findall(path.read_text())}


def test_every_client_method_the_adapters_call_has_its_permission_mapped() -> None:
    called = _called_methods()
    assert "delete_namespaced_pod" in called
    assert sorted(called - set(CLIENT_CALLS)) == []  # map a new call in CLIENT_CALLS
    assert sorted(set(CLIENT_CALLS) - called) == []  # no entry outlives its call


def test_every_declared_permission_is_one_an_adapter_call_needs() -> None:
    callable_ = set(CLIENT_CALLS.values())
    declared = {p for needs in DRILL_NEEDS.values() for p in needs}
    declared |= {p for needs in VARIANT_NEEDS.values() for p in needs}
    stale = [
        p.describe()
        for p in declared
        if Permission(p.verb, p.resource, p.group, p.subresource) not in callable_
    ]
    assert stale == []


def test_the_declared_secret_is_the_one_the_service_config_writes() -> None:
    default = inspect.signature(KubeServiceConfig).parameters["secret"].default
    assert default == SHOP_DATABASE_SECRET


DENIED = frozenset({("delete", "pods")})


class _Reviews:
    """AuthorizationV1Api and AuthenticationV1Api at once: records each review it answers."""

    asked: ClassVar[list[Any]] = []

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client

    def create_self_subject_access_review(self, body: Any) -> Any:
        attributes = body.spec.resource_attributes
        self.asked.append(attributes)
        allowed = (attributes.verb, attributes.resource) not in DENIED
        return SimpleNamespace(
            status=SimpleNamespace(allowed=allowed, reason=None, evaluation_error=None)
        )

    def create_self_subject_review(self, body: Any) -> Any:
        user = SimpleNamespace(username="system:serviceaccount:shop:drills-operator")
        return SimpleNamespace(status=SimpleNamespace(user_info=user))


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> KubeApi:
    monkeypatch.setattr(_Reviews, "asked", [])
    monkeypatch.setattr(client, "AuthorizationV1Api", _Reviews)
    monkeypatch.setattr(client, "AuthenticationV1Api", _Reviews)
    return KubeApi(core=SimpleNamespace(api_client=None), apps=None, autoscaling=None, context="c")


def test_one_review_per_distinct_permission_with_every_attribute(api: KubeApi) -> None:
    secret = Permission("get", "secrets", name="shop-database", namespace="shop")
    scale = Permission("patch", "deployments", "apps", "scale", namespace="shop")
    kill = Permission("delete", "pods", namespace="shop")
    decisions = review_access(api, [secret, scale, kill, scale])
    assert decisions == {
        secret: AccessDecision(allowed=True),
        scale: AccessDecision(allowed=True),
        kill: AccessDecision(allowed=False),
    }
    asked = [
        (a.verb, a.group, a.resource, a.subresource, a.name, a.namespace) for a in _Reviews.asked
    ]
    assert asked == [
        ("get", "", "secrets", None, "shop-database", "shop"),
        ("patch", "apps", "deployments", "scale", None, "shop"),
        ("delete", "", "pods", None, None, "shop"),
    ]


def test_who_am_i_names_the_authenticated_user(api: KubeApi) -> None:
    assert who_am_i(api) == "user system:serviceaccount:shop:drills-operator"


def test_an_unusable_kubeconfig_is_a_config_error(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    with pytest.raises(ConfigError, match="cannot be used"):
        connect_for_review(kubeconfig, allowlist=Allowlist(kube_contexts=("x",)), context=None)
